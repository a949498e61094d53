"""Days named relative to today: "manana", "el viernes", "next weekend",
"dentro de una semana", "el ultimo viernes de mayo".

The choices behind each reading are listed in :mod:`.dates`.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from saveit.conversation.day_names import (
    ANY_MONTH,
    ANY_WEEKDAY,
    MONTH_NAMES,
    WEEKDAY_NAMES,
    WEEKDAYS,
    alternation,
)
from saveit.conversation.mentions import Mention

__all__ = ["coming_weekday", "in_days", "nth_weekdays", "relative"]

_COUNTS = {
    "un": 1, "una": 1, "a": 1, "one": 1, "dos": 2, "two": 2, "tres": 3, "three": 3,
    "cuatro": 4, "four": 4, "cinco": 5, "five": 5, "seis": 6, "six": 6, "siete": 7,
    "seven": 7, "ocho": 8, "eight": 8, "nueve": 9, "nine": 9, "diez": 10, "ten": 10,
}  # fmt: skip
_IN_DAYS = re.compile(
    r"\b(?:dentro de|en|in|de aqui a) (" + alternation(list(_COUNTS)) + r"|\d{1,2}) "
    r"(dias?|days?|semanas?|weeks?)\b"
    r"|\b(" + alternation(list(_COUNTS)) + r"|\d) (weeks?|days?) from (?:today|now)\b"
)
_NTH_WORDS: dict[str, int] = {
    "first": 1,
    "1st": 1,
    "primer": 1,
    "primero": 1,
    "second": 2,
    "2nd": 2,
    "segundo": 2,
    "third": 3,
    "3rd": 3,
    "tercer": 3,
    "tercero": 3,
    "fourth": 4,
    "4th": 4,
    "cuarto": 4,
    "last": -1,
    "ultimo": -1,
}
_NTH_WEEKDAY = re.compile(
    r"\b(" + alternation(list(_NTH_WORDS)) + r") (" + alternation(list(WEEKDAYS)) + r")"
    r" (?:of|in|de|del|en) (?:(" + ANY_MONTH + r")\b|(next month|mes que viene|proximo mes))"
)
_DAY_AFTER_TOMORROW = re.compile(r"\b(?:pasado manana|(?:the )?day after tomorrow)\b")
_TOMORROW = re.compile(
    r"\btomorrow\b|(?<!\bla )(?<!\besta )(?<!\bcada )(?<!\buna )(?<!\btoda )\bmanana\b"
)
_TODAY = re.compile(
    r"\b(?:hoy|today|tonight|esta noche|esta tarde|esta manana|this evening|this afternoon|"
    r"this morning)\b"
)
_WEEKEND = re.compile(
    r"\b(?:(proximo|next|este|this|coming|this coming) )?(?:finde|fin de semana|weekend)\b"
    r"( que viene)?"
)
_WEEKDAY_MENTION = re.compile(
    r"\b(?:(proximo|proxima|next|este|esta|this|this coming|coming) )?(" + ANY_WEEKDAY + r")\b"
    r"( que viene| next week| of next week| de la semana que viene| de la proxima semana|"
    r" de la semana siguiente| after next| despues del proximo| despues del que viene)?"
)
_NEXT_WEEK = re.compile(r"\b(?:(?:la )?semana que viene|(?:la )?proxima semana|next week)\b")
_TODAY_IS = re.compile(r" (?:es|is)\b")
_TODAY_IS_WEEKDAY = re.compile(r"\b(?:hoy es|today is|today's) ")


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date | None:
    days = [
        d
        for d in (date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1))
        if d.weekday() == weekday
    ]
    if nth == -1:
        return days[-1]
    return days[nth - 1] if nth <= len(days) else None


def nth_weekdays(text: str, today: date) -> list[Mention[date]]:
    """ "The second friday of december", "el ultimo viernes de mayo": the next
    such day to come (a month already past this year is next year's)."""
    found: list[Mention[date]] = []
    for m in _NTH_WEEKDAY.finditer(text):
        nth, weekday = _NTH_WORDS[m[1]], WEEKDAYS[m[2]]
        if m[3] is not None:
            month, years = MONTH_NAMES[m[3]], (today.year, today.year + 1)
            candidates = [_nth_weekday(y, month, weekday, nth) for y in years]
        else:
            y, mo = divmod(today.month, 12)
            candidates = [_nth_weekday(today.year + y, mo + 1, weekday, nth)]
        d = next((c for c in candidates if c is not None and c >= today), None)
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 4))
    return found


def in_days(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _IN_DAYS.finditer(text):
        count, unit = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        n = _COUNTS[count] if count in _COUNTS else int(count)
        days = n * 7 if unit.startswith(("semana", "week")) else n
        found.append(Mention(m.start(), m.end(), today + timedelta(days=days), 2))
    return found


def coming_weekday(today: date, weekday: int, *, strictly_after: bool = False) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def relative(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _DAY_AFTER_TOMORROW.finditer(text):
        found.append(Mention(m.start(), m.end(), today + timedelta(days=2), 2))
    for m in _TOMORROW.finditer(text):
        found.append(Mention(m.start(), m.end(), today + timedelta(days=1), 2))
    for m in _TODAY.finditer(text):
        # "hoy es viernes" states a fact; it stands only when nothing else is named.
        rank = 0 if _TODAY_IS.match(text, m.end()) else 2
        found.append(Mention(m.start(), m.end(), today, rank))
    stated_today = {m.end() for m in _TODAY_IS_WEEKDAY.finditer(text)}
    next_week = _NEXT_WEEK.search(text) is not None
    for m in _WEEKDAY_MENTION.finditer(text):
        weekday = WEEKDAY_NAMES[m[2]]
        suffix = (m[3] or "").strip()
        if suffix in {"after next", "despues del proximo", "despues del que viene"}:
            d = coming_weekday(today, weekday, strictly_after=True) + timedelta(days=7)
        elif next_week or suffix.endswith(("semana", "siguiente", "next week")):
            monday = today + timedelta(days=7 - today.weekday())
            d = monday + timedelta(days=weekday)
        else:
            nxt = m[1] in {"proximo", "proxima", "next"} or suffix == "que viene"
            d = coming_weekday(today, weekday, strictly_after=nxt)
        found.append(Mention(m.start(), m.end(), d, 0 if m.start() in stated_today else 2))
    for m in _WEEKEND.finditer(text):
        nxt = m[1] in {"proximo", "next"} or m[2] is not None
        if today.weekday() >= 5:
            d = today + timedelta(days=(12 - today.weekday()) if nxt else 0)
        else:
            d = coming_weekday(today, 5)
        found.append(Mention(m.start(), m.end(), d, 2))
    return found
