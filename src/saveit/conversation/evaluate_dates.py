"""Scoring the day, the time and the ambiguity the parser reads, per language.

Two sets are scored this way. The held-out set (``eval/datetimes.jsonl``) was
written apart from the parser, one line per everyday way of saying a day or
a time, and records for each line the day, the time and, where a careful
reader could not choose, the kind of doubt (``part_of_day``: "esta noche a las
14:00"; ``weekday_date``: "vie 22" when the 22nd is no Friday;
``two_services``: "a las 9" at a place open for breakfast and dinner). The
general set (``eval/utterances.jsonl``) is scored the same way for its days
and times, so a gain on one cannot hide a loss on the other.

Both are judged at :data:`~saveit.conversation.evaluate.NOW` with the demo
restaurant's services, unless a line names its own (``services``).

A *confident wrong* answer is a line where the parser returns a day or a time
(without saying it is unsure) that is not the expected one: the dialogue would
act on it. A miss that leaves the slot empty, or a doubt flagged where none
was expected, costs a question, not a wrong booking, and is counted apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any

from saveit.conversation.evaluate import NOW, SERVICES, Case
from saveit.conversation.nlu import parse
from saveit.domain.model import ServiceHours

__all__ = [
    "EXACT_TARGET",
    "WRONG_TARGET",
    "DateCase",
    "DateReport",
    "evaluate_dates",
    "format_date_report",
    "from_general",
    "load_date_cases",
]

EXACT_TARGET = 0.95
WRONG_TARGET = 0.01
AMBIGUITIES = ("part_of_day", "weekday_date", "two_services")


@dataclass(frozen=True, slots=True)
class DateCase:
    text: str
    lang: str
    intent: str | None
    kind: str
    date: str | None
    time: str | None
    ambiguous: str | None
    services: tuple[ServiceHours, ...] = SERVICES


@dataclass(frozen=True, slots=True)
class DateMiss:
    text: str
    kind: str
    expected: tuple[str | None, str | None, str | None]
    got: tuple[str | None, str | None, str | None]
    confident_wrong: bool


@dataclass(slots=True)
class LangScore:
    cases: int = 0
    intent_total: int = 0
    intent: int = 0
    date: int = 0
    time: int = 0
    exact: int = 0
    ambiguous: int = 0
    flagged: int = 0
    false_flags: int = 0
    confident_wrong: int = 0

    @property
    def exact_rate(self) -> float:
        return self.exact / self.cases if self.cases else 1.0

    @property
    def wrong_rate(self) -> float:
        return self.confident_wrong / self.cases if self.cases else 0.0


@dataclass(slots=True)
class DateReport:
    name: str
    langs: dict[str, LangScore] = field(default_factory=dict)
    kinds: dict[str, LangScore] = field(default_factory=dict)
    misses: list[DateMiss] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(
            s.exact_rate >= EXACT_TARGET and s.wrong_rate <= WRONG_TARGET
            for s in self.langs.values()
        )


def _services(raw: list[list[str]] | None) -> tuple[ServiceHours, ...]:
    if not raw:
        return SERVICES
    return tuple(
        ServiceHours(time.fromisoformat(a), time.fromisoformat(b), f"service {i}")
        for i, (a, b) in enumerate(raw)
    )


def _case(raw: dict[str, Any]) -> DateCase:
    ambiguous = raw.get("ambiguous")
    if ambiguous is not None and ambiguous not in AMBIGUITIES:
        raise ValueError(f"unknown ambiguity {ambiguous!r} in {raw['text']!r}")
    return DateCase(
        text=raw["text"],
        lang=raw["lang"],
        intent=raw.get("intent"),
        kind=raw.get("kind", "general"),
        date=raw.get("date"),
        time=raw.get("time"),
        ambiguous=ambiguous,
        services=_services(raw.get("services")),
    )


def _read(lines: Iterable[str]) -> list[DateCase]:
    return [_case(json.loads(line)) for line in lines if line.strip()]


def load_date_cases(path: Path | None = None) -> list[DateCase]:
    """The shipped held-out set, or a file in the same format."""
    if path is not None:
        return _read(path.read_text(encoding="utf-8").splitlines())
    shipped = resources.files("saveit.conversation").joinpath("eval", "datetimes.jsonl")
    return _read(shipped.read_text(encoding="utf-8").splitlines())


def from_general(cases: Sequence[Case]) -> list[DateCase]:
    """The general set's lines, scored for their day and time (none is ambiguous)."""
    return [
        DateCase(
            text=c.text,
            lang=c.lang,
            intent=c.intent,
            kind="general",
            date=c.expected.get("date"),
            time=c.expected.get("time"),
            ambiguous=None,
        )
        for c in cases
    ]


def _score(score: LangScore, case: DateCase, got: dict[str, Any]) -> tuple[bool, bool]:
    score.cases += 1
    if case.intent is not None:
        score.intent_total += 1
        score.intent += got["intent"] == case.intent
    date_ok = got["date"] == case.date
    time_ok = got["time"] == case.time
    flag_ok = got["ambiguous"] == case.ambiguous
    score.date += date_ok
    score.time += time_ok
    exact = date_ok and time_ok and flag_ok
    score.exact += exact
    if case.ambiguous is not None:
        score.ambiguous += 1
        score.flagged += flag_ok
    elif got["ambiguous"] is not None:
        score.false_flags += 1
    wrong = (got["date"] is not None and not date_ok) or (got["time"] is not None and not time_ok)
    score.confident_wrong += wrong
    return exact, wrong


def evaluate_dates(cases: Sequence[DateCase], name: str = "held-out") -> DateReport:
    report = DateReport(name)
    for case in cases:
        services = case.services

        def hours(
            _: date, services: tuple[ServiceHours, ...] = services
        ) -> tuple[ServiceHours, ...]:
            return services

        got = parse(case.text, now=NOW, services=hours).to_json()
        lang_score = report.langs.setdefault(case.lang, LangScore())
        exact, wrong = _score(lang_score, case, got)
        _score(report.kinds.setdefault(case.kind, LangScore()), case, got)
        if not exact:
            report.misses.append(
                DateMiss(
                    case.text,
                    case.kind,
                    (case.date, case.time, case.ambiguous),
                    (got["date"], got["time"], got["ambiguous"]),
                    wrong,
                )
            )
    return report


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}% ({part}/{whole})" if whole else "    -"


def _row(label: str, s: LangScore) -> str:
    return (
        f"  {label:<13} n={s.cases:<4} intent {_pct(s.intent, s.intent_total)}"
        f" | date {_pct(s.date, s.cases)} | time {_pct(s.time, s.cases)}"
        f" | date+time exact {_pct(s.exact, s.cases)}"
        f" | ambiguity flagged {_pct(s.flagged, s.ambiguous)}"
        f" (false flags {s.false_flags})"
        f" | confident wrong {_pct(s.confident_wrong, s.cases)}"
    )


def format_date_report(report: DateReport, *, verbose: bool = False) -> str:
    lines = [f"{report.name}: dates and times per language"]
    for lang in sorted(report.langs, reverse=True):
        lines.append(_row(lang, report.langs[lang]))
    if verbose:
        lines.append("  per kind:")
        for kind in sorted(report.kinds):
            lines.append(_row(kind, report.kinds[kind]))
    lines.append(
        f"  result: {'PASS' if report.passed else 'FAIL'} (per language: date+time exact"
        f" >= {EXACT_TARGET:.0%}, confident wrong <= {WRONG_TARGET:.0%})"
    )
    if verbose and report.misses:
        lines.append(f"  misses ({len(report.misses)}):")
        for miss in report.misses:
            mark = "WRONG" if miss.confident_wrong else "miss "
            lines.append(
                f"    {mark} [{miss.kind}] {miss.text!r}: expected {miss.expected}, got {miss.got}"
            )
    return "\n".join(lines)
