"""The time of day a guest asks for, read from normalized text (see :mod:`.text`).

A bare number is a time only with something that makes it one: "a las",
"at", "around", a suffix ("21h", "8pm", "9ish", "o'clock"), minutes ("9:30",
"9 y media", "half past eight"). "Para 4", "table for 2", "el 15" and "24/12"
are counts and days, never times.

An hour from 1 to 11 says nothing about morning or evening. What the guest
says decides it first: a suffix on the time itself ("de la manana", "pm",
"in the evening"), then a part of day elsewhere in the message ("esta noche",
"para cenar", "lunch"). Otherwise the restaurant's services decide: of h and
h+12, the one inside a service; when both or neither fit, h+12, because
restaurants book lunch and dinner, not breakfast. An hour typed with a leading
zero ("09:30") is read as written. "Noon"/"mediodia" is 12:00 and
"midnight"/"medianoche" 00:00 whatever the services.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from saveit.conversation.dates import Mention, dot_reads_as_date, pick
from saveit.conversation.party import NUMBER_WORDS
from saveit.domain.model import ServiceHours

__all__ = ["find_time"]

HOUR_WORDS: dict[str, int] = {
    word: n for word, n in NUMBER_WORDS.items() if 1 <= n <= 12 and " " not in word
} | {"una": 1}  # "a la una"
"""Hours said in words, es and en: the party counts up to twelve, phrases aside."""
MINUTE_WORDS: dict[str, int] = {
    "media": 30,
    "cuarto": 15,
    "cinco": 5,
    "diez": 10,
    "veinte": 20,
    "veinticinco": 25,
    "half": 30,
    "quarter": 15,
    "five": 5,
    "ten": 10,
    "twenty": 20,
    "twenty five": 25,
    "twenty-five": 25,
    "thirty": 30,
    "fifteen": 15,
    "forty five": 45,
    "forty-five": 45,
    "fortyfive": 45,
    "forty": 40,
}

_HOUR = r"(\d{1,2}|" + "|".join(sorted(HOUR_WORDS, key=len, reverse=True)) + r")"
_ES_MIN = r"(media|cuarto|veinticinco|veinte|diez|cinco|\d{1,2})"
_EN_MIN = r"(half|quarter|twenty five|twenty-five|twenty|ten|five|\d{1,2})"
_EN_AFTER_HOUR = r"(thirty|fifteen|forty five|forty-five|fortyfive)"
# A suffix on the number itself: the strongest say on morning or evening.
_SUFFIX = r"(?: ?(am|a m|pm|p m|h|hs|hrs|o'clock|oclock|o clock|ish)(?![\w']))?"
_PART = (
    r"(?: (?:de la|por la|en la|esta|this|in the|at) "
    r"(manana|tarde|noche|madrugada|morning|afternoon|evening|night)"
    r"| del (mediodia)| (tonight))?"
)
_COUNT_WORDS = (
    r"personas?|pers|pax|people|persons?|guests?|comensales?|adult[oa]?s?|ninos?|ninas?|"
    r"kids?|children|of us|reservas|reservations|bookings|mesas|tables|opciones|options|"
    r"euros?|eur|dollars?|minutos|minutes|mins?|dias|days|semanas|weeks|veces|times"
)
_NOT_A_COUNT = r"(?! (?:" + _COUNT_WORDS + r")\b)"
_END = r"(?![\w:/]|\.\d)"

_CLOCK = re.compile(
    r"(?<![\w:./+\-])(\d{1,2})([:.])(\d{2})(?![\d:/]|\.\d)"
    + _SUFFIX
    + r"(?!\w)"
    + _PART
    + _NOT_A_COUNT
)
_WITH_SUFFIX = re.compile(
    r"(?<![\w:./+\-])(\d{1,2}) ?(am|a m|pm|p m|h|hs|hrs|o'clock|oclock|o clock|ish)(?![\w'])"
    + _PART
)
_HORAS = re.compile(r"(?<![\w:./+\-])(1[3-9]|2[0-3]) horas\b" + _PART)
_SPANISH = re.compile(
    r"\b(?:(?:a|sobre|hacia|para|desde|hasta|entre|tipo|como a) )?"
    r"(?:las "
    + _HOUR
    + r"|la (una|1))"
    + _END
    + r"(?: y "
    + _ES_MIN
    + r"| menos "
    + _ES_MIN
    + r")?"
    + _END
    + r"(?: horas)?"
    + _SUFFIX
    + _PART
    + _NOT_A_COUNT
)
_SPANISH_MINUTES = re.compile(
    r"(?<![\w:./+\-])" + _HOUR + r" (?:y (media|cuarto)|menos (cuarto))\b" + _SUFFIX + _PART
)
_ENGLISH = re.compile(
    r"\b(?:at|around|about|by|before|after|until|till|arrive at|say) (?:about |around )?"
    + _HOUR
    + _END
    + r"(?: "
    + _EN_AFTER_HOUR
    + r")?"
    + _SUFFIX
    + _PART
    + _NOT_A_COUNT
)
_ENGLISH_PAST = re.compile(
    r"\b"
    + _EN_MIN
    + r" (?:minutes )?(past|after|to) "
    + _HOUR
    + _END
    + _SUFFIX
    + _PART
    + _NOT_A_COUNT
)
_ENGLISH_WORDS = re.compile(
    r"(?<![\w:./+\-])" + _HOUR + r" " + _EN_AFTER_HOUR + r"\b" + _SUFFIX + _PART
)
_OCLOCK = re.compile(
    r"(?<![\w:./+\-])" + _HOUR + r" ?(o'clock|oclock|o clock|ish)(?![\w'])" + _PART
)
_NOON = re.compile(r"\b(?:(noon|midday|mediodia)|(midnight|medianoche))\b")

_PM_HINT = re.compile(
    r"\b(?:tonight|esta noche|de la noche|por la noche|esta tarde|por la tarde|de la tarde|"
    r"this evening|in the evening|this afternoon|in the afternoon|at night|evening|"
    r"dinner|cena|cenar|cenamos)\b"
)
_AM_HINT = re.compile(
    r"\b(?:de la manana|por la manana|en la manana|esta manana|in the morning|this morning|"
    r"(?<!good )morning|desayuno|desayunar|breakfast|brunch|madrugada)\b"
)
_LUNCH_HINT = re.compile(r"\b(?:comida|comer|almuerzo|almorzar|lunch|mediodia|midday|noon)\b")

_PARTS = {
    "am": "am",
    "a m": "am",
    "pm": "pm",
    "p m": "pm",
    "manana": "morning",
    "morning": "morning",
    "madrugada": "small_hours",
    "tarde": "pm",
    "afternoon": "pm",
    "noche": "night",
    "evening": "night",
    "night": "night",
    "tonight": "night",
    "mediodia": "lunch",
}


def _hour(token: str) -> int:
    return HOUR_WORDS[token] if token in HOUR_WORDS else int(token)


def _minutes(token: str | None) -> int:
    if token is None:
        return 0
    return MINUTE_WORDS[token] if token in MINUTE_WORDS else int(token)


def _with_part(hour: int, part: str) -> int:
    """A 12-hour reading turned into 24 hours by what the guest said of the day."""
    if hour > 12:
        return hour
    if part == "am":
        return 0 if hour == 12 else hour
    if part == "morning":
        return hour
    if part == "small_hours":
        return 0 if hour == 12 else hour
    if part == "pm":
        return hour if hour == 12 else hour + 12
    if part == "night":  # "las 12 de la noche" is midnight, "la 1 de la noche" 1:00
        return 0 if hour == 12 else hour if hour < 5 else hour + 12
    if part == "lunch":  # "las 2 del mediodia"; 11 and 12 stay as said
        return hour + 12 if hour < 6 else hour
    return hour


def _in_service(minute_of_day: int, services: Sequence[ServiceHours]) -> bool:
    t = time(minute_of_day // 60, minute_of_day % 60)
    for s in services:
        if s.crosses_midnight:
            if t >= s.opens or t < s.closes:
                return True
        elif s.opens <= t < s.closes:
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Reading:
    """An hour as said plus a minute offset, resolved once the whole message is known."""

    hour: int
    offset: int
    part: str | None
    explicit: bool = False

    def resolve(self, hint: str | None, services: Sequence[ServiceHours]) -> time | None:
        if self.hour > 24 or not (-59 <= self.offset <= 59):
            return None
        part = self.part or hint
        if self.explicit or self.hour == 0 or (self.hour >= 12 and part is None):
            hour = self.hour % 24
        elif part is not None:
            hour = _with_part(self.hour, part)
        else:
            am = (self.hour * 60 + self.offset) % 1440
            pm = am + 720 if am < 720 else am
            morning = _in_service(am, services) and not _in_service(pm, services)
            hour = self.hour if morning else self.hour + 12
        total = (hour * 60 + self.offset) % 1440
        return time(total // 60, total % 60)


def _part(suffix: str | None, parts: Sequence[str | None]) -> str | None:
    """The part of day said right at the time: "pm" first, then "de la noche"."""
    for token in (suffix, *parts):
        if token is not None and token in _PARTS:
            return _PARTS[token]
    return None


def _readings(norm: str) -> list[Mention[_Reading]]:
    found: list[Mention[_Reading]] = []

    def add(m: re.Match[str], reading: _Reading, rank: int) -> None:
        found.append(Mention(m.start(), m.end(), reading, rank))

    for m in _CLOCK.finditer(norm):
        hour, minute = m[1], int(m[3])
        if minute > 59:
            continue
        if m[2] == "." and not _dot_is_time(norm, m.start(), hour, m[3], m[4] or m[5] or m[7]):
            continue
        explicit = len(hour) == 2 and hour.startswith("0")
        add(m, _Reading(int(hour), minute, _part(m[4], m.groups()[4:]), explicit), 3)
    for m in _WITH_SUFFIX.finditer(norm):
        add(m, _Reading(int(m[1]), 0, _part(m[2], m.groups()[2:])), 3)
    for m in _HORAS.finditer(norm):
        add(m, _Reading(int(m[1]), 0, None, explicit=True), 3)
    for m in _SPANISH.finditer(norm):
        offset = _minutes(m[3]) - _minutes(m[4])
        add(m, _Reading(_hour(m[1] or m[2]), offset, _part(m[5], m.groups()[5:])), 3)
    for m in _SPANISH_MINUTES.finditer(norm):
        offset = _minutes(m[2]) - _minutes(m[3])
        add(m, _Reading(_hour(m[1]), offset, _part(m[4], m.groups()[4:])), 2)
    for m in _ENGLISH.finditer(norm):
        add(m, _Reading(_hour(m[1]), _minutes(m[2]), _part(m[3], m.groups()[3:])), 3)
    for m in _ENGLISH_PAST.finditer(norm):
        offset = _minutes(m[1]) * (-1 if m[2] == "to" else 1)
        add(m, _Reading(_hour(m[3]), offset, _part(m[4], m.groups()[4:])), 3)
    for m in _ENGLISH_WORDS.finditer(norm):
        add(m, _Reading(_hour(m[1]), _minutes(m[2]), _part(m[3], m.groups()[3:])), 2)
    for m in _OCLOCK.finditer(norm):
        add(m, _Reading(_hour(m[1]), 0, _part(None, m.groups()[2:])), 2)
    for m in _NOON.finditer(norm):
        add(m, _Reading(12 if m[1] else 0, 0, None, explicit=True), 1)
    return found


def _dot_is_time(norm: str, start: int, hour: str, minute: str, suffix: str | None) -> bool:
    if suffix is not None:
        return True
    before = norm[max(0, start - 12) : start]
    if re.search(r"\b(?:las|la|at|around|about|by|until|till|sobre|hacia)\s$", before):
        return True
    if re.search(r"\b(?:el|the|on|dia|day)\s$", before):
        return False
    return not dot_reads_as_date(hour, minute)


def _hint(norm: str) -> str | None:
    pm, am = _PM_HINT.search(norm), _AM_HINT.search(norm)
    if pm and not am:
        return "night"
    if am and not pm:
        return "morning"
    if not pm and not am and _LUNCH_HINT.search(norm):
        return "lunch"
    return None


def find_time(norm: str, services: Sequence[ServiceHours] = ()) -> time | None:
    """``services`` are the opening hours of the day asked about, used only to
    tell 9:00 from 21:00 when the guest does not say; ``None`` when no time is named."""
    reading = pick(norm, _readings(norm))
    if reading is None:
        return None
    return reading.resolve(_hint(norm), services)
