"""The day a guest asks for, read from normalized text (see :mod:`.text`).

Guests name days in many ways, in two languages, with typos. Everything here
is deterministic and offline. Choices that a reader could make otherwise:

* A bare weekday ("el viernes", "friday") is the coming one, and today when
  today is that weekday: at a restaurant, "el viernes" said on a Friday means
  tonight far more often than a week away.
* "Next friday" / "el proximo viernes" / "el viernes que viene" is the coming
  one too, except said on a Friday, when it is a week away ("next Monday" on a
  Saturday is in two days). "This saturday" / "este sabado" is the coming one,
  today included. "Friday next week" / "el viernes de la semana que viene" is
  the Friday of the next Monday-to-Sunday week.
* The weekend ("el finde", "this weekend") is the coming Saturday, or today
  on a Saturday or Sunday; "next weekend" on a Saturday or Sunday is the
  following Saturday.
* Numeric dates are day first ("12/11" is 12 November), as in Spain and most
  of Europe; month first only when day first is impossible ("12/24"). With a
  dot, "21.30" and "9.15" are times: a dotted pair is a date when the first
  number cannot be an hour (over 23), when the second is not a round minute
  (not a multiple of five), or after "el"/"the"/"dia"; see
  :func:`dot_reads_as_date`.
* A day and month without a year that is already past this year is next
  year's. A day of the month alone ("el 15", "the 15th") is this month's if
  not past, else the next month that has it.
* "Manana" is tomorrow unless it is the morning ("de la manana", "por la
  manana", "esta manana" which is today).
* Yesterday and other past days are never returned: guests do not book them.
* "Saturday after next" / "el sabado despues del proximo" is a week after the
  next one; "the second friday of december" / "el ultimo viernes de mayo" is
  the next such day to come; "dentro de una semana" / "in 3 days" count from
  today. Days in words ("el siete de junio", "the twelfth", "dia veinte") and
  ISO dates ("2026-12-04") read as their numbers.
* A weekday said with a date that is not that weekday ("vie 22" when the 22nd
  is a Tuesday) is not guessed: :func:`read_date` returns no day and both
  readings (see :mod:`.ambiguity`). When they agree, the date.

When a message names more than one day, a day that is negated ("hoy no",
"not friday") or is the one being moved away from ("del viernes al sabado",
"from friday to saturday") loses, and so does one before a correction
("el viernes, mejor el sabado"); then the most explicit form wins, then the
first mentioned. See :func:`.mentions.pick`.

The vocabulary (and typo correction) is in :mod:`.day_names`, the days named
relative to today in :mod:`.relative_days`; this module reads dates proper and
puts the readings together.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date

from saveit.conversation.ambiguity import Ambiguity
from saveit.conversation.day_names import (
    ANY_MONTH,
    ANY_WEEKDAY,
    MONTH_NAMES,
    ORDINAL_WORDS,
    WEEKDAY_NAMES,
    alternation,
    canonical,
    day_words,
)
from saveit.conversation.mentions import Mention, pick
from saveit.conversation.relative_days import coming_weekday, in_days, nth_weekdays, relative

__all__ = ["dot_reads_as_date", "find_date", "read_date"]

_DAY = r"(\d{1,2}|" + alternation(list(ORDINAL_WORDS)) + r")(?:st|nd|rd|th)?"
# What may not follow a day number: the number is a time, a count or a longer number.
_PARTY_WORDS = (
    r"personas?|pers|pax|people|persons?|guests?|comensales?|adult[oa]?s?|adults?|"
    r"ninos?|ninas?|kids?|children|child|of us|de nosotros"
)
_NOT_A_DAY_AFTER = (
    r"(?![\w:/\-]|\.\d)(?! ?(?:am|pm|a m|p m|h|hs|hrs|horas?|hours?|o'clock|oclock|ish|"
    + _PARTY_WORDS
    + r"|de la (?:manana|tarde|noche|madrugada)|del mediodia)\b)"
)

_DAY_MONTH = re.compile(
    r"(?<![\w:./\-])"
    + _DAY
    + r"(?: de| of| the)? ("
    + ANY_MONTH
    + r")\b(?: (?:de |del |of )?(\d{4}))?"
)
_MONTH_DAY = re.compile(
    r"\b(" + ANY_MONTH + r")(?: the)? " + _DAY + _NOT_A_DAY_AFTER + r"(?: (\d{4})\b)?"
)
_NUMERIC = re.compile(
    r"(?<![\w:./+\-])(\d{1,2})([/.\-])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\w:/\-]|\.\d)"
)
_WEEKDAY_AND_DAY = re.compile(
    r"\b("
    + ANY_WEEKDAY
    + r")(?: (?:el |the )?(?:dia |day )?)(\d{1,2})(st|nd|rd|th)?"
    + _NOT_A_DAY_AFTER
)
# "the 1st one", "the 2nd reservation": a choice from a list, not a day.
_NOT_A_CHOICE = r"(?! (?:of us|one|reservation|booking|option|floor|time)\b)"
_DAY_OF_MONTH = re.compile(
    r"\b(?:(?:el|the|on the|for the|dia|day|el dia|the day)) (\d{1,2})(?:st|nd|rd|th)?"
    + _NOT_A_DAY_AFTER
    + _NOT_A_CHOICE
    + r"|(?<![\w:./\-])(\d{1,2})(?:st|nd|rd|th)\b"
    + _NOT_A_CHOICE
    + r"|(?<![\w:./\-])(\d{1,2})(?= (?:of|del|de el) (?:next month|mes que viene|proximo mes))"
)
_ISO = re.compile(r"(?<![\w:./\-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w:/\-])")
# After a weekday and a day number that disagree, what shows the number is a day.
_DAY_ENDS = re.compile(
    r"$| (?:a|at|around|sobre|hacia|por|para|for|in|on|en|please|y|and|o|or)\b"
    r"(?! (?:media|cuarto|half|quarter)\b)"
)
_WEEKDAY_BEFORE_DATE = re.compile(r"\b(" + ANY_WEEKDAY + r")\b (?:(?:el|the|dia|day) )?")


def _iso(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _ISO.finditer(text):
        d = _valid(int(m[1]), int(m[2]), int(m[3]))
        if d is not None and d >= today:
            found.append(Mention(m.start(), m.end(), d, 4))
    return found


_NEXT_MONTH = re.compile(r" (?:del|de el|of) (?:mes que viene|proximo mes|next month)\b")
_TIME_CONTEXT_BEFORE = re.compile(r"\b(?:las|la|at|around|about|by|until|till)\s$")
_DATE_CONTEXT_BEFORE = re.compile(r"\b(?:el|the|on|dia|day)\s$")


def dot_reads_as_date(first: str, second: str) -> bool:
    """Whether a dotted pair with no other context ("24.12", "21.30") is a
    day.month rather than an hour.minute; :mod:`.times` asks the same question."""
    day, month = int(first), int(second)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    return day > 23 or month % 5 != 0


def _valid(year: int, month: int, day: int) -> date | None:
    if not (1 <= month <= 12) or not (1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    return date(year, month, day)


def _month_day(today: date, month: int, day: int, year: int | None) -> date | None:
    """Without a year, the next time that day comes round (today included)."""
    if year is not None:
        return _valid(year, month, day)
    for offset in range(9):  # 29 February comes round within eight years
        candidate = _valid(today.year + offset, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _day_of_month(today: date, day: int, months_ahead: int = 0) -> date | None:
    year, month = today.year, today.month
    for step in range(13):
        y, m = divmod(month - 1 + step, 12)
        candidate = _valid(year + y, m + 1, day)
        if candidate is None or step < months_ahead:
            continue
        if candidate >= today:
            return candidate
    return None


def _day_number(token: str) -> int:
    return ORDINAL_WORDS.get(token) or int(token)


def _year(token: str | None) -> int | None:
    if token is None:
        return None
    return 2000 + int(token) if len(token) == 2 else int(token)


def _explicit(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _DAY_MONTH.finditer(text):
        d = _month_day(today, MONTH_NAMES[m[2]], _day_number(m[1]), _year(m[3]))
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 3))
    for m in _MONTH_DAY.finditer(text):
        d = _month_day(today, MONTH_NAMES[m[1]], _day_number(m[2]), _year(m[3]))
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 3))
    for m in _NUMERIC.finditer(text):
        before = text[max(0, m.start() - 12) : m.start()]
        if _TIME_CONTEXT_BEFORE.search(before) or _followed_by_count_or_time(text, m.end()):
            continue
        first, sep, second, year = m[1], m[2], m[3], _year(m[4])
        dotted = sep == "." and year is None and not _DATE_CONTEXT_BEFORE.search(before)
        if dotted and not dot_reads_as_date(first, second):
            continue
        day, month = int(first), int(second)
        if month > 12 and sep == "/" and day <= 12:
            day, month = month, day
        d = _month_day(today, month, day, year)
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 3))
    return found


_COUNT_OR_TIME_AFTER = re.compile(
    r" ?(?:am|pm|a m|p m|h|hs|hrs|horas?|hours?|" + _PARTY_WORDS + r")\b"
)


def _followed_by_count_or_time(text: str, pos: int) -> bool:
    return bool(_COUNT_OR_TIME_AFTER.match(text, pos))


def _days_of_month(text: str, today: date, conflicts: list[Ambiguity]) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _WEEKDAY_AND_DAY.finditer(text):
        introduced = text[m.end(1) : m.start(2)].strip() != "" or m[3] is not None
        d = _day_of_month(today, int(m[2]))
        if d is None:
            continue
        weekday = WEEKDAY_NAMES[m[1]]
        if d.weekday() == weekday:
            found.append(Mention(m.start(), m.end(), d, 3))
        elif introduced or _DAY_ENDS.match(text, m.end()):
            conflicts.append(_weekday_conflict(today, weekday, d))
    for m in _DAY_OF_MONTH.finditer(text):
        number = m[1] or m[2] or m[3]
        ahead = 1 if _NEXT_MONTH.match(text, m.end()) else 0
        d = _day_of_month(today, int(number), ahead)
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 1))
    return found


def _weekday_conflict(today: date, weekday: int, d: date) -> Ambiguity:
    return Ambiguity("weekday_date", dates=(coming_weekday(today, weekday), d))


def _weekday_then_date(
    text: str, today: date, explicit: Sequence[Mention[date]]
) -> list[Ambiguity]:
    """ "Martes 9 de diciembre" when the 9th is a Wednesday."""
    starts = {m.start: m.value for m in explicit}
    conflicts = []
    for m in _WEEKDAY_BEFORE_DATE.finditer(text):
        d = starts.get(m.end())
        weekday = WEEKDAY_NAMES[m[1]]
        if d is not None and d.weekday() != weekday:
            conflicts.append(_weekday_conflict(today, weekday, d))
    return conflicts


def read_date(norm: str, today: date) -> tuple[date | None, Ambiguity | None]:
    """The day asked for, or, when a weekday and a date name different days,
    none and both days to ask between (see :mod:`.ambiguity`)."""
    text = day_words(canonical(norm))
    conflicts: list[Ambiguity] = []
    explicit = _explicit(text, today) + _iso(text, today)
    conflicts += _weekday_then_date(text, today, explicit)
    mentions = (
        explicit
        + nth_weekdays(text, today)
        + _days_of_month(text, today, conflicts)
        + relative(text, today)
        + in_days(text, today)
    )
    if conflicts:
        return None, conflicts[0]
    return pick(text, mentions), None


def find_date(norm: str, today: date) -> date | None:
    """``today`` is the restaurant's local date; ``None`` when no day is named
    or the message leaves it open."""
    return read_date(norm, today)[0]
