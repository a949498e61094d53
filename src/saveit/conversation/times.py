"""The time of day a guest asks for, read from normalized text (see :mod:`.text`).

A bare number is a time only with something that makes it one: "a las",
"at", "around", a suffix ("21h", "8pm", "9ish", "o'clock"), minutes ("9:30",
"9 y media", "half past eight"). "Para 4", "table for 2", "el 15" and "24/12"
are counts and days, never times.

An hour from 1 to 11 says nothing about morning or evening. What the guest
says decides it first: a suffix on the time itself ("de la manana", "pm", "9p",
"in the evening"), then a part of day elsewhere in the message ("esta noche",
"esta tarde", "para cenar", "lunch"). Otherwise the restaurant's services
decide: of h and h+12, the one inside a service; when neither fits, h+12,
because restaurants book lunch and dinner, not breakfast. An hour typed with a
leading zero ("09:30") is read as written. "Noon"/"mediodia" is 12:00 and
"midnight"/"medianoche" 00:00 whatever the services. This module finds the
hours said; :mod:`.day_parts` settles morning or evening.

Two cases are not guessed (see :mod:`.ambiguity`): an hour that fits two
services of the day ("a las 9" where breakfast and dinner are served), and a
time outside every part of the day the message names ("esta noche a las
14:00", "lunch at 9pm"). :func:`read_time` returns no time and the readings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time

from saveit.conversation.ambiguity import Ambiguity
from saveit.conversation.dates import dot_reads_as_date
from saveit.conversation.day_parts import Reading, part_said, said_parts
from saveit.conversation.mentions import Mention, pick
from saveit.conversation.party import NUMBER_WORDS
from saveit.domain.model import ServiceHours

__all__ = ["find_time", "read_time"]

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
    "oh five": 5,
    "fifty": 50,
    "fifty five": 55,
    "quince": 15,
    "treinta": 30,
    "cuarenta": 40,
    "cuarenta y cinco": 45,
    "cincuenta": 50,
    "cincuenta y cinco": 55,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veintiuno": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
}

_HOUR = r"(\d{1,2}|" + "|".join(sorted(HOUR_WORDS, key=len, reverse=True)) + r")"
_ES_MIN = (
    r"(media|cuarto|cuarenta y cinco|cincuenta y cinco|veinticinco|veinticuatro|veintitres|"
    r"veintidos|veintiuno|veinte|diecinueve|dieciocho|diecisiete|dieciseis|quince|catorce|"
    r"trece|doce|once|diez|cinco|treinta|cuarenta|cincuenta|\d{1,2})"
)
_EN_MIN = r"(half|quarter|twenty five|twenty-five|twenty|ten|five|\d{1,2})"
_EN_AFTER_HOUR = (
    r"(thirty|fifteen|forty five|forty-five|fortyfive|forty|fifty five|fifty|twenty five|"
    r"twenty-five|twenty|oh five|ten)"
)
# A suffix on the number itself: the strongest say on morning or evening.
_SUFFIX = r"(?: ?(am|a m|pm|p m|h|hs|hrs|o'clock|oclock|o clock|ish|p)(?![\w']))?"
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
# The end of an hour: a space or the end, or a suffix glued on ("9pm", "10p").
_END = r"(?!\.\d)(?=(?:am|pm|p|h)(?![\w'])|[^\w:/]|$)"

_CLOCK = re.compile(
    r"(?<![\w:./+\-])(\d{1,2})([:.])(\d{2})(?![\d:/]|\.\d)"
    + _SUFFIX
    + r"(?!\w)"
    + _PART
    + _NOT_A_COUNT
)
_WITH_SUFFIX = re.compile(
    r"(?<![\w:./+\-])(\d{1,2}) ?(am|a m|pm|p m|h|hs|hrs|o'clock|oclock|o clock|ish|p)(?![\w'])"
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
    + r"(noon|midday|midnight|"
    + _HOUR[1:]
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
# "21h15", "8h30": the French and Spanish way of writing minutes after the hour.
_H_MINUTES = re.compile(r"(?<![\w:./+\-])([01]?\d|2[0-3])h([0-5]\d)(?!\w)" + _PART)
# "2130", "845 in the evening", "930pm": an hour and its minutes run together,
# a time only with a suffix, a part of day or "a las" / "at" before it.
_RUN_TOGETHER = re.compile(
    r"(?<![\w:./+\-])(\d{1,2})([0-5]\d)(?!\.\d)(?=(?:am|pm|p|h)(?![\w'])|[^\w:/\-]|$)"
    + _SUFFIX
    + _PART
    + _NOT_A_COUNT
)
_RUN_TOGETHER_CONTEXT = re.compile(r"\b(?:a las|las|sobre las|hacia las|at|around|about|by|for)\s$")
# "diez de la noche", "7 de la tarde": an hour said with its part of the day.
_SPANISH_WITH_PART = re.compile(
    r"(?<![\w:./+\-])(?<!para )(?<!somos )(?<!de )(?<!x )"
    + _HOUR
    + _END
    + r"(?: y "
    + _ES_MIN
    + r"| menos "
    + _ES_MIN
    + r")? (?:de la (manana|tarde|noche|madrugada)|del (mediodia))\b"
)
# "pasado manana a 10", "el viernes a 9 y media": "a" for "a las" after a day.
_SPANISH_SHORT = re.compile(
    r"\b(?:hoy|manana|lunes|martes|miercoles|jueves|viernes|sabado|domingo|noche|tarde) a "
    + _HOUR
    + _END
    + r"(?: y "
    + _ES_MIN
    + r"| menos "
    + _ES_MIN
    + r")?"
    + _END
    + _SUFFIX
    + _PART
    + _NOT_A_COUNT
)
# "half eight", "half 9": half past, as said in Britain.
_HALF = re.compile(
    r"\bhalf " + _HOUR + _END + r"(?! (?:past|an? hour|hours?|of)\b)" + _SUFFIX + _PART
)
# "9 tomorrow night", "8 friday evening" opening the message or after a comma: an
# evening hour and its day. A lone "4 tonight" is a party, and so is any count
# before "this afternoon"; "tomorrow night" alone after a number reads as the hour.
_HOUR_THEN_DAY = re.compile(
    r"(?:^|(?<=, )|(?<=\bat )|(?<=\baround ))([5-9]|1[01]|five|six|seven|eight|nine|ten|eleven)"
    r" (?:today|tomorrow|this|on \w+|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r" (night|evening)\b"
)
_NOON = re.compile(r"\b(?:(noon|midday|mediodia)|(midnight|medianoche))\b")


def _hour(token: str) -> int:
    return HOUR_WORDS[token] if token in HOUR_WORDS else int(token)


def _minutes(token: str | None) -> int:
    if token is None:
        return 0
    return MINUTE_WORDS[token] if token in MINUTE_WORDS else int(token)


def _readings(norm: str) -> list[Mention[Reading]]:
    found: list[Mention[Reading]] = []

    def add(m: re.Match[str], reading: Reading, rank: int) -> None:
        found.append(Mention(m.start(), m.end(), reading, rank))

    for m in _CLOCK.finditer(norm):
        hour, minute = m[1], int(m[3])
        if minute > 59:
            continue
        if m[2] == "." and not _dot_is_time(norm, m.start(), hour, m[3], m[4] or m[5] or m[7]):
            continue
        explicit = len(hour) == 2 and hour.startswith("0")
        add(m, Reading(int(hour), minute, part_said(m[4], m.groups()[4:]), explicit), 3)
    for m in _WITH_SUFFIX.finditer(norm):
        add(m, Reading(int(m[1]), 0, part_said(m[2], m.groups()[2:])), 3)
    for m in _HORAS.finditer(norm):
        add(m, Reading(int(m[1]), 0, None, explicit=True), 3)
    for m in _SPANISH.finditer(norm):
        offset = _minutes(m[3]) - _minutes(m[4])
        add(m, Reading(_hour(m[1] or m[2]), offset, part_said(m[5], m.groups()[5:])), 3)
    for m in _SPANISH_MINUTES.finditer(norm):
        offset = _minutes(m[2]) - _minutes(m[3])
        add(m, Reading(_hour(m[1]), offset, part_said(m[4], m.groups()[4:])), 2)
    for m in _ENGLISH.finditer(norm):
        add(m, Reading(_hour(m[1]), _minutes(m[2]), part_said(m[3], m.groups()[3:])), 3)
    for m in _ENGLISH_PAST.finditer(norm):
        offset = _minutes(m[1]) * (-1 if m[2] == "to" else 1)
        if m[3] in {"noon", "midday", "midnight"}:
            add(m, Reading(12 if m[3] != "midnight" else 0, offset, None, explicit=True), 3)
            continue
        add(m, Reading(_hour(m[3]), offset, part_said(m[4], m.groups()[4:])), 3)
    for m in _H_MINUTES.finditer(norm):
        add(m, Reading(int(m[1]), int(m[2]), part_said(None, m.groups()[2:])), 3)
    for m in _RUN_TOGETHER.finditer(norm):
        part = part_said(m[3], m.groups()[3:])
        before = norm[max(0, m.start() - 14) : m.start()]
        if part is None and m[3] is None and not _RUN_TOGETHER_CONTEXT.search(before):
            continue
        add(m, Reading(int(m[1]), int(m[2]), part), 3)
    for m in _SPANISH_WITH_PART.finditer(norm):
        offset = _minutes(m[2]) - _minutes(m[3])
        add(m, Reading(_hour(m[1]), offset, part_said(None, m.groups()[3:])), 2)
    for m in _SPANISH_SHORT.finditer(norm):
        offset = _minutes(m[2]) - _minutes(m[3])
        add(m, Reading(_hour(m[1]), offset, part_said(m[4], m.groups()[4:])), 2)
    for m in _HALF.finditer(norm):
        add(m, Reading(_hour(m[1]), 30, part_said(m[2], m.groups()[2:])), 3)
    for m in _HOUR_THEN_DAY.finditer(norm):
        add(m, Reading(_hour(m[1]), 0, part_said(None, (m[2],))), 1)
    for m in _ENGLISH_WORDS.finditer(norm):
        add(m, Reading(_hour(m[1]), _minutes(m[2]), part_said(m[3], m.groups()[3:])), 2)
    for m in _OCLOCK.finditer(norm):
        add(m, Reading(_hour(m[1]), 0, part_said(None, m.groups()[2:])), 2)
    for m in _NOON.finditer(norm):
        add(m, Reading(12 if m[1] else 0, 0, None, explicit=True), 1)
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


def read_time(
    norm: str, services: Sequence[ServiceHours] = ()
) -> tuple[time | None, Ambiguity | None]:
    """The time asked for, or the readings to ask between (see :mod:`.ambiguity`)."""
    mentions = _readings(norm)
    reading = pick(norm, mentions)
    if reading is None:
        return None, None
    span = next(m for m in mentions if m.value is reading)
    rest = norm[: span.start] + " " * (span.end - span.start) + norm[span.end :]
    return reading.resolve(said_parts(rest), services)


def find_time(norm: str, services: Sequence[ServiceHours] = ()) -> time | None:
    """``services`` are the opening hours of the day asked about, used only to
    tell 9:00 from 21:00 when the guest does not say; ``None`` when no time is
    named or when the message leaves it open."""
    return read_time(norm, services)[0]
