"""The shipped evaluation set and the parser's score on it."""

from __future__ import annotations

from collections import Counter

import pytest

from saveit.conversation.evaluate import (
    NOW,
    SLOTS,
    Report,
    evaluate,
    format_report,
    load_cases,
)
from saveit.conversation.nlu import INTENTS


def test_the_set_is_large_bilingual_and_covers_every_intent() -> None:
    cases = load_cases()
    assert len(cases) >= 200
    langs = Counter(c.lang for c in cases)
    assert set(langs) == {"es", "en"}
    assert min(langs.values()) >= 0.4 * len(cases)
    intents = Counter(c.intent for c in cases)
    assert set(intents) == set(INTENTS)
    assert intents["unknown"] >= 40
    assert intents["greeting"] >= 10
    assert len({c.text for c in cases}) == len(cases)
    assert NOW.weekday() == 5  # the expectations assume a Saturday


def test_every_line_is_well_formed() -> None:
    for case in load_cases():
        assert case.intent in INTENTS, case.text
        assert case.lang in {"es", "en"}, case.text
        assert set(case.expected) <= set(SLOTS), case.text
        assert case.expected.get("area", "terrace") in {"terrace", "indoor"}, case.text


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(load_cases())


def test_the_parser_meets_the_targets(report: Report) -> None:
    text = format_report(report, verbose=True)
    assert report.intent_accuracy >= 0.95, text
    assert report.lang_accuracy >= 0.95, text
    for slot, score in report.slots.items():
        assert score.accuracy >= 0.95, f"{slot}\n{text}"
    assert report.invented == 0, text
    assert report.passed


def test_the_report_lists_misses_when_verbose(report: Report) -> None:
    short = format_report(report)
    assert "intent accuracy:" in short
    assert "invented slots: 0" in short
    assert "misses" not in short
    if report.misses:
        assert "misses" in format_report(report, verbose=True)
