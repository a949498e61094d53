"""The shipped evaluation set and the parser's score on it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from saveit.conversation.evaluate import (
    NOW,
    SLOTS,
    Report,
    evaluate,
    format_report,
    load_cases,
)
from saveit.conversation.evaluate_dates import (
    AMBIGUITIES,
    EXACT_TARGET,
    WRONG_TARGET,
    evaluate_dates,
    format_date_report,
    from_general,
    load_date_cases,
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


# --- the held-out dates and times ---------------------------------------------------------


def test_the_held_out_set_is_large_bilingual_and_covers_every_form() -> None:
    cases = load_date_cases()
    assert len(cases) >= 300
    langs = Counter(c.lang for c in cases)
    assert set(langs) == {"es", "en"}
    assert min(langs.values()) >= 0.45 * len(cases)
    kinds = {c.kind for c in cases}
    assert kinds >= {
        "part_of_day",
        "minutes",
        "compact",
        "day",
        "relative",
        "weekday_date",
        "verbless",
        "conflict",
        "two_services",
    }
    assert {c.ambiguous for c in cases} == {None, *AMBIGUITIES}
    assert len({c.text for c in cases}) == len(cases)
    for case in cases:
        assert case.intent in INTENTS, case.text


def test_the_parser_meets_the_date_and_time_targets_per_language() -> None:
    report = evaluate_dates(load_date_cases())
    text = format_date_report(report, verbose=True)
    assert set(report.langs) == {"es", "en"}
    for score in report.langs.values():
        assert score.exact_rate >= EXACT_TARGET, text
        assert score.wrong_rate <= WRONG_TARGET, text
        assert score.flagged == score.ambiguous, text
    assert report.passed


def test_the_general_set_reads_its_dates_and_times_per_language() -> None:
    report = evaluate_dates(from_general(load_cases()), "general set")
    assert report.passed, format_date_report(report, verbose=True)


def test_a_confident_wrong_answer_is_told_apart_from_a_question(tmp_path: Path) -> None:
    lines = [
        # read, but wrong: confident wrong
        {"text": "mesa a las 21:00", "lang": "es", "date": None, "time": "22:00"},
        # flagged where the line expects an answer: a question, not a wrong booking
        {"text": "mesa esta noche a las 14:00", "lang": "es", "date": "2026-11-28",
         "time": "14:00"},
    ]  # fmt: skip
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    report = evaluate_dates(load_date_cases(path))
    score = report.langs["es"]
    assert (score.cases, score.exact, score.confident_wrong, score.false_flags) == (2, 0, 1, 1)
    assert not report.passed
    assert "WRONG [general] 'mesa a las 21:00'" in format_date_report(report, verbose=True)
