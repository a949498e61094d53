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
first mentioned. See :func:`pick`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from saveit.conversation.ambiguity import Ambiguity

__all__ = ["Mention", "dot_reads_as_date", "find_date", "pick", "read_date"]

T = TypeVar("T")

MONTHS: dict[str, int] = {
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
MONTH_ABBREVIATIONS: dict[str, int] = {
    "ene": 1,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "abr": 4,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "ago": 8,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "set": 9,
    "oct": 10,
    "nov": 11,
    "dic": 12,
    "dec": 12,
}
WEEKDAYS: dict[str, int] = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# Shorthand the normalizer leaves alone ("sáb" loses its accent after expansion).
WEEKDAY_ABBREVIATIONS: dict[str, int] = {
    "lun": 0,
    "mie": 2,
    "jue": 3,
    "sab": 5,
    "tue": 1,
    "thur": 3,
}
_PLURALS = {f"{name}s": n for name, n in WEEKDAYS.items() if not name.endswith("s")}

# Real words one or two edits from a month or weekday name, never corrected.
_NOT_TYPOS = frozenset(
    {"vienes", "viene", "mares", "entero", "entera", "marcha", "mayor", "junto", "julia"}
    | {"mananas", "manzana", "manzanas", "banana", "mariana", "hermana", "semana", "tomorrows"}
)
_DAY_WORDS = ("manana", "tomorrow")
_FUZZY_CHOICES = tuple(MONTHS) + tuple(WEEKDAYS) + _DAY_WORDS
_FUZZY_CUTOFF = 85.0

_MONTH_NAMES = {**MONTHS, **MONTH_ABBREVIATIONS}
_WEEKDAY_NAMES = {**WEEKDAYS, **WEEKDAY_ABBREVIATIONS, **_PLURALS}


def _alternation(names: Sequence[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_MONTH = _alternation(list(_MONTH_NAMES))
_WEEKDAY = _alternation(list(_WEEKDAY_NAMES))
_ORDINAL_WORDS: dict[str, int] = {
    "primero": 1,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
}
_DAY = r"(\d{1,2}|" + _alternation(list(_ORDINAL_WORDS)) + r")(?:st|nd|rd|th)?"
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
    + _MONTH
    + r")\b(?: (?:de |del |of )?(\d{4}))?"
)
_MONTH_DAY = re.compile(
    r"\b(" + _MONTH + r")(?: the)? " + _DAY + _NOT_A_DAY_AFTER + r"(?: (\d{4})\b)?"
)
_NUMERIC = re.compile(
    r"(?<![\w:./+\-])(\d{1,2})([/.\-])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\w:/\-]|\.\d)"
)
_WEEKDAY_AND_DAY = re.compile(
    r"\b("
    + _WEEKDAY
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
_COUNTS = {
    "un": 1, "una": 1, "a": 1, "one": 1, "dos": 2, "two": 2, "tres": 3, "three": 3,
    "cuatro": 4, "four": 4, "cinco": 5, "five": 5, "seis": 6, "six": 6, "siete": 7,
    "seven": 7, "ocho": 8, "eight": 8, "nueve": 9, "nine": 9, "diez": 10, "ten": 10,
}  # fmt: skip
_ISO = re.compile(r"(?<![\w:./\-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w:/\-])")
_IN_DAYS = re.compile(
    r"\b(?:dentro de|en|in|de aqui a) (" + _alternation(list(_COUNTS)) + r"|\d{1,2}) "
    r"(dias?|days?|semanas?|weeks?)\b"
    r"|\b(" + _alternation(list(_COUNTS)) + r"|\d) (weeks?|days?) from (?:today|now)\b"
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
    r"\b(" + _alternation(list(_NTH_WORDS)) + r") (" + _alternation(list(WEEKDAYS)) + r")"
    r" (?:of|in|de|del|en) (?:(" + _MONTH + r")\b|(next month|mes que viene|proximo mes))"
)
_ES_DAY_WORDS: dict[str, int] = {
    "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14,
    "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19,
    "veinte": 20, "veintiuno": 21, "veintiun": 21, "veintidos": 22, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27,
    "veintiocho": 28, "veintinueve": 29, "treinta": 30, "treinta y uno": 31,
}  # fmt: skip
_EN_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9,
}  # fmt: skip
_EN_DAY_WORDS: dict[str, int] = {
    **_EN_UNITS,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "thirty first": 31,
    **{f"twenty {w}": 20 + n for w, n in _EN_UNITS.items()},
}  # fmt: skip
_MONTH_AFTER = re.compile(
    r" (?:de |of |del |of the )?(?:" + _MONTH + r"|mes que viene|proximo mes|next month)\b"
)
_SPANISH_DAY_WORD = re.compile(r"\b(" + _alternation(list(_ES_DAY_WORDS)) + r")\b")
_ENGLISH_DAY_WORD = re.compile(
    r"\b(" + _alternation([w.replace(" ", "[ -]") for w in _EN_DAY_WORDS]) + r")\b"
)
_DAY_EXPECTED_BEFORE = re.compile(r"\b(?:the|on|for|el|dia|day|" + _MONTH + r")\s$")
_NOT_A_DAY_WORD_AFTER = re.compile(
    r" (?:"
    + _alternation(list(_WEEKDAY_NAMES))
    + r"|one|reservation|booking|option|floor|time|of us|of them|person|people|week|weekend|"
    r"semana|personas?|adultos?|ninos?|pax|comensales|mesas?|thing|things|course|dish|round|"
    r"plato|ronda|vez)\b"
)
# After a weekday and a day number that disagree, what shows the number is a day.
_DAY_ENDS = re.compile(
    r"$| (?:a|at|around|sobre|hacia|por|para|for|in|on|en|please|y|and|o|or)\b"
    r"(?! (?:media|cuarto|half|quarter)\b)"
)
_WEEKDAY_BEFORE_DATE = re.compile(r"\b(" + _WEEKDAY + r")\b (?:(?:el|the|dia|day) )?")


def _day_words(text: str) -> str:
    """Days said in words, as digits: "el siete de junio" is "el 7 de junio",
    "the twelfth of december" "the 12th of december"."""

    def spanish(m: re.Match[str]) -> str:
        value = _ES_DAY_WORDS[m[1]]
        before = text[max(0, m.start() - 12) : m.start()]
        if _MONTH_AFTER.match(text, m.end()) or re.search(r"\bdia\s$", before):
            return str(value)
        after = _NOT_A_DAY_WORD_AFTER.match(text, m.end())
        if value > 12 and re.search(r"\bel\s$", before) and not after:
            return str(value)
        return m[0]

    def english(m: re.Match[str]) -> str:
        value = _EN_DAY_WORDS[m[1].replace("-", " ")]
        if _NOT_A_DAY_WORD_AFTER.match(text, m.end()):
            return m[0]
        before = text[max(0, m.start() - 14) : m.start()]
        if _MONTH_AFTER.match(text, m.end()) or _DAY_EXPECTED_BEFORE.search(before):
            return f"{value}th"
        return m[0]

    text = _SPANISH_DAY_WORD.sub(spanish, text)
    return _ENGLISH_DAY_WORD.sub(english, text)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date | None:
    days = [
        d
        for d in (date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1))
        if d.weekday() == weekday
    ]
    if nth == -1:
        return days[-1]
    return days[nth - 1] if nth <= len(days) else None


def _nth_weekdays(text: str, today: date) -> list[Mention[date]]:
    """ "The second friday of december", "el ultimo viernes de mayo": the next
    such day to come (a month already past this year is next year's)."""
    found: list[Mention[date]] = []
    for m in _NTH_WEEKDAY.finditer(text):
        nth, weekday = _NTH_WORDS[m[1]], WEEKDAYS[m[2]]
        if m[3] is not None:
            month, years = _MONTH_NAMES[m[3]], (today.year, today.year + 1)
            candidates = [_nth_weekday(y, month, weekday, nth) for y in years]
        else:
            y, mo = divmod(today.month, 12)
            candidates = [_nth_weekday(today.year + y, mo + 1, weekday, nth)]
        d = next((c for c in candidates if c is not None and c >= today), None)
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 4))
    return found


def _in_days(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _IN_DAYS.finditer(text):
        count, unit = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        n = _COUNTS[count] if count in _COUNTS else int(count)
        days = n * 7 if unit.startswith(("semana", "week")) else n
        found.append(Mention(m.start(), m.end(), today + timedelta(days=days), 2))
    return found


def _iso(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _ISO.finditer(text):
        d = _valid(int(m[1]), int(m[2]), int(m[3]))
        if d is not None and d >= today:
            found.append(Mention(m.start(), m.end(), d, 4))
    return found


_NEXT_MONTH = re.compile(r" (?:del|de el|of) (?:mes que viene|proximo mes|next month)\b")
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
    r"\b(?:(proximo|proxima|next|este|esta|this|this coming|coming) )?(" + _WEEKDAY + r")\b"
    r"( que viene| next week| of next week| de la semana que viene| de la proxima semana|"
    r" de la semana siguiente| after next| despues del proximo| despues del que viene)?"
)
_NEXT_WEEK = re.compile(r"\b(?:(?:la )?semana que viene|(?:la )?proxima semana|next week)\b")
_TIME_CONTEXT_BEFORE = re.compile(r"\b(?:las|la|at|around|about|by|until|till)\s$")
_DATE_CONTEXT_BEFORE = re.compile(r"\b(?:el|the|on|dia|day)\s$")
_TODAY_IS = re.compile(r" (?:es|is)\b")
_TODAY_IS_WEEKDAY = re.compile(r"\b(?:hoy es|today is|today's) ")

_NEGATED_BEFORE = re.compile(
    r"(?:\b(?:no|not|ni|nor)(?: (?:puedo|podemos|puede|can|el|la|las|on|the|at|a|para|for))*"
    r"|\bcan't(?: do)?|\bcannot(?: do)?|\bdel?|\bfrom(?: the)?|\bdesde(?: el| las?)?"
    r"|\ben vez de(?: el| las?)?|\ben lugar de(?: el| las?)?|\binstead of|\brather than) $"
)
_NEGATED_AFTER = re.compile(r" no\b(?! se\b)")
_CORRECTION = re.compile(
    r"\b(?:mejor|better|actually|prefiero|preferimos|preferiria|i'd prefer|i prefer|mas bien|"
    r"o sea|i mean|quiero decir|perdon|sorry|wait|espera|cambiar(?:la|lo)? (?:a|al|para)|"
    r"change (?:it )?to|move (?:it )?to)\b"
)


@dataclass(frozen=True, slots=True)
class Mention(Generic[T]):
    """One reading of a span of text; ``rank`` says how explicit the form is."""

    start: int
    end: int
    value: T
    rank: int


def pick(norm: str, mentions: Sequence[Mention[T]]) -> T | None:
    """Shared by days and times, so "hoy no, manana" and "a las 9 no, a las 10"
    settle the same way."""
    if not mentions:
        return None
    kept: list[Mention[T]] = []
    for m in sorted(mentions, key=lambda m: (-m.rank, m.start - m.end, m.start)):
        if not any(m.start < k.end and k.start < m.end for k in kept):
            kept.append(m)
    if len({m.value for m in kept}) > 1:
        ends = {k.end for k in kept}
        positive = [m for m in kept if not _negated(norm, m, ends)]
        kept = positive or kept
        corrections = [c.end() for c in _CORRECTION.finditer(norm)]
        if corrections:
            after = [m for m in kept if m.start >= corrections[-1]]
            kept = after or kept
    return max(kept, key=lambda m: (m.rank, -m.start)).value


def _negated(norm: str, m: Mention[T], ends: set[int]) -> bool:
    if _NEGATED_AFTER.match(norm, m.end):
        return True
    offset = max(0, m.start - 30)
    before = _NEGATED_BEFORE.search(norm[offset : m.start])
    # In "hoy no, manana" the "no" belongs to "hoy"; it does not negate "manana".
    return before is not None and offset + before.start() - 1 not in ends


@lru_cache(maxsize=4096)
def _canonical_word(word: str) -> str:
    if word in _MONTH_NAMES or word in _WEEKDAY_NAMES or word in _NOT_TYPOS or word in _DAY_WORDS:
        return word
    if len(word) < 5 or not word.isalpha():
        return word
    best = process.extractOne(word, _FUZZY_CHOICES, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    if best is None:
        # One swapped, missing, extra or wrong letter ("firday", "juebes", "manna").
        near = [c for c in _FUZZY_CHOICES if OSA.distance(word, c, score_cutoff=1) <= 1]
        best = (near[0], 0.0, 0) if near else None
    # A typo rarely changes the first letter; requiring it keeps "partes" off "martes".
    if best is None or best[0][0] != word[0]:
        return word
    return best[0]


def _canonical(norm: str) -> str:
    return " ".join(_canonical_word(w) for w in norm.split(" "))


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


def _weekday(today: date, weekday: int, *, strictly_after: bool = False) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def _day_number(token: str) -> int:
    return _ORDINAL_WORDS.get(token) or int(token)


def _year(token: str | None) -> int | None:
    if token is None:
        return None
    return 2000 + int(token) if len(token) == 2 else int(token)


def _explicit(text: str, today: date) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _DAY_MONTH.finditer(text):
        d = _month_day(today, _MONTH_NAMES[m[2]], _day_number(m[1]), _year(m[3]))
        if d is not None:
            found.append(Mention(m.start(), m.end(), d, 3))
    for m in _MONTH_DAY.finditer(text):
        d = _month_day(today, _MONTH_NAMES[m[1]], _day_number(m[2]), _year(m[3]))
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


def _relative(text: str, today: date) -> list[Mention[date]]:
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
        weekday = _WEEKDAY_NAMES[m[2]]
        suffix = (m[3] or "").strip()
        if suffix in {"after next", "despues del proximo", "despues del que viene"}:
            d = _weekday(today, weekday, strictly_after=True) + timedelta(days=7)
        elif next_week or suffix.endswith(("semana", "siguiente", "next week")):
            monday = today + timedelta(days=7 - today.weekday())
            d = monday + timedelta(days=weekday)
        else:
            nxt = m[1] in {"proximo", "proxima", "next"} or suffix == "que viene"
            d = _weekday(today, weekday, strictly_after=nxt)
        found.append(Mention(m.start(), m.end(), d, 0 if m.start() in stated_today else 2))
    for m in _WEEKEND.finditer(text):
        nxt = m[1] in {"proximo", "next"} or m[2] is not None
        if today.weekday() >= 5:
            d = today + timedelta(days=(12 - today.weekday()) if nxt else 0)
        else:
            d = _weekday(today, 5)
        found.append(Mention(m.start(), m.end(), d, 2))
    return found


def _days_of_month(text: str, today: date, conflicts: list[Ambiguity]) -> list[Mention[date]]:
    found: list[Mention[date]] = []
    for m in _WEEKDAY_AND_DAY.finditer(text):
        introduced = text[m.end(1) : m.start(2)].strip() != "" or m[3] is not None
        d = _day_of_month(today, int(m[2]))
        if d is None:
            continue
        weekday = _WEEKDAY_NAMES[m[1]]
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
    return Ambiguity("weekday_date", dates=(_weekday(today, weekday), d))


def _weekday_then_date(
    text: str, today: date, explicit: Sequence[Mention[date]]
) -> list[Ambiguity]:
    """ "Martes 9 de diciembre" when the 9th is a Wednesday."""
    starts = {m.start: m.value for m in explicit}
    conflicts = []
    for m in _WEEKDAY_BEFORE_DATE.finditer(text):
        d = starts.get(m.end())
        weekday = _WEEKDAY_NAMES[m[1]]
        if d is not None and d.weekday() != weekday:
            conflicts.append(_weekday_conflict(today, weekday, d))
    return conflicts


def read_date(norm: str, today: date) -> tuple[date | None, Ambiguity | None]:
    """The day asked for, or, when a weekday and a date name different days,
    none and both days to ask between (see :mod:`.ambiguity`)."""
    text = _day_words(_canonical(norm))
    conflicts: list[Ambiguity] = []
    explicit = _explicit(text, today) + _iso(text, today)
    conflicts += _weekday_then_date(text, today, explicit)
    mentions = (
        explicit
        + _nth_weekdays(text, today)
        + _days_of_month(text, today, conflicts)
        + _relative(text, today)
        + _in_days(text, today)
    )
    if conflicts:
        return None, conflicts[0]
    return pick(text, mentions), None


def find_date(norm: str, today: date) -> date | None:
    """``today`` is the restaurant's local date; ``None`` when no day is named
    or the message leaves it open."""
    return read_date(norm, today)[0]
