"""Scoring the parser against the shipped set of real-style guest messages.

Every line of the set is judged at one fixed moment, so expectations such as
"manana" or "el viernes" stay true forever: Saturday 28 November 2026 at noon
in Madrid, at a restaurant serving lunch from 13:00 to 16:00 and dinner from
20:00 to 23:30 every day (so "a las 9" is 21:00 and "a las 2" is 14:00).

Besides accuracy, a slot the parser filled where the line expects nothing is
counted as *invented*: a wrong guess is worse than a question, because the
dialogue acts on a value it believes the guest gave.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from saveit.conversation.nlu import Parse, parse
from saveit.domain.model import ServiceHours

__all__ = [
    "NOW",
    "SERVICES",
    "SLOTS",
    "Case",
    "Miss",
    "Report",
    "evaluate",
    "format_report",
    "load_cases",
]

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("Europe/Madrid"))
SERVICES: tuple[ServiceHours, ...] = (
    ServiceHours(time(13, 0), time(16, 0), "lunch"),
    ServiceHours(time(20, 0), time(23, 30), "dinner"),
)
SLOTS = ("date", "time", "party_size", "name", "area")
"""Area is scored only on lines that state one; the other slots on every line."""

INTENT_TARGET = 0.95
SLOT_TARGET = 0.95


def _services(_: date) -> Sequence[ServiceHours]:
    return SERVICES


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    intent: str
    lang: str
    expected: dict[str, Any]  # slot name to its JSON value; area only when stated


@dataclass(frozen=True, slots=True)
class Miss:
    text: str
    field: str
    expected: Any
    got: Any


@dataclass(slots=True)
class SlotScore:
    total: int = 0
    correct: int = 0
    invented: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 1.0


@dataclass(slots=True)
class Report:
    cases: int = 0
    intent_correct: int = 0
    lang_correct: int = 0
    slots: dict[str, SlotScore] = field(default_factory=lambda: {s: SlotScore() for s in SLOTS})
    misses: list[Miss] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return self.intent_correct / self.cases if self.cases else 1.0

    @property
    def lang_accuracy(self) -> float:
        return self.lang_correct / self.cases if self.cases else 1.0

    @property
    def invented(self) -> int:
        return sum(s.invented for s in self.slots.values())

    @property
    def passed(self) -> bool:
        return (
            self.intent_accuracy >= INTENT_TARGET
            and all(s.accuracy >= SLOT_TARGET for s in self.slots.values())
            and self.invented == 0
        )


def _case(raw: dict[str, Any]) -> Case:
    expected = {s: raw.get(s) for s in SLOTS if s != "area"}
    if "area" in raw:
        expected["area"] = raw["area"]
    return Case(text=raw["text"], intent=raw["intent"], lang=raw["lang"], expected=expected)


def _read_lines(lines: Iterable[str]) -> list[Case]:
    return [_case(json.loads(line)) for line in lines if line.strip()]


def load_cases(path: Path | None = None) -> list[Case]:
    """The shipped set, or a file in the same format."""
    if path is not None:
        return _read_lines(path.read_text(encoding="utf-8").splitlines())
    shipped = resources.files("saveit.conversation").joinpath("eval", "utterances.jsonl")
    return _read_lines(shipped.read_text(encoding="utf-8").splitlines())


def _got(p: Parse) -> dict[str, Any]:
    return p.to_json()


def evaluate(cases: Sequence[Case]) -> Report:
    report = Report()
    for case in cases:
        got = _got(parse(case.text, now=NOW, services=_services))
        report.cases += 1
        if got["intent"] == case.intent:
            report.intent_correct += 1
        else:
            report.misses.append(Miss(case.text, "intent", case.intent, got["intent"]))
        if got["lang"] == case.lang:
            report.lang_correct += 1
        else:
            report.misses.append(Miss(case.text, "lang", case.lang, got["lang"]))
        for slot, want in case.expected.items():
            score = report.slots[slot]
            score.total += 1
            if got[slot] == want:
                score.correct += 1
                continue
            if want is None:
                score.invented += 1
            report.misses.append(Miss(case.text, slot, want, got[slot]))
    return report


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def format_report(report: Report, *, verbose: bool = False) -> str:
    lines = [
        f"utterances: {report.cases}",
        f"intent accuracy: {_pct(report.intent_accuracy)} ({report.intent_correct}/{report.cases})",
        f"lang accuracy: {_pct(report.lang_accuracy)} ({report.lang_correct}/{report.cases})",
    ]
    for slot, score in report.slots.items():
        lines.append(
            f"{slot}: {_pct(score.accuracy)} ({score.correct}/{score.total}),"
            f" invented {score.invented}"
        )
    lines.append(f"invented slots: {report.invented}")
    lines.append(f"result: {'PASS' if report.passed else 'FAIL'}")
    if verbose and report.misses:
        lines.append("")
        lines.append(f"misses ({len(report.misses)}):")
        for miss in report.misses:
            lines.append(
                f"  [{miss.field}] {miss.text!r}: expected {miss.expected!r}, got {miss.got!r}"
            )
    return "\n".join(lines)
