"""Morning or evening: how an hour a guest says becomes a clock time.

An hour from 1 to 11 says nothing about morning or evening. What the guest
says decides it first: a suffix on the time itself ("de la manana", "pm"), then
a part of day said elsewhere in the message ("esta noche", "para cenar");
otherwise the restaurant's services decide, and when neither of h and h+12 is
inside one, h+12. The patterns that find the hour are in :mod:`.times`; this
module resolves what they found once the whole message is known, and says when
a time contradicts the part of the day the guest named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from saveit.conversation.ambiguity import Ambiguity
from saveit.domain.model import ServiceHours

__all__ = ["Reading", "in_part", "part_said", "said_parts"]

# Parts of the day said anywhere in the message, apart from the time itself.
_SAID_PARTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "night",
        re.compile(
            r"\b(?:tonight|esta noche|de la noche|por la noche|la noche|at night|this evening|"
            r"in the evening|(?<!good )evening|(?<!good )night|dinner|cena|cenar|cenamos|"
            r"madrugada)\b"
        ),
    ),
    (
        "afternoon",
        re.compile(
            r"\b(?:esta tarde|por la tarde|de la tarde|this afternoon|in the afternoon|"
            r"(?<!good )afternoon)\b"
        ),
    ),
    (
        "morning",
        re.compile(
            r"\b(?:de la manana|por la manana|en la manana|esta manana|in the morning|"
            r"this morning|(?<!good )morning|desayuno|desayunar|breakfast|brunch)\b"
        ),
    ),
    ("lunch", re.compile(r"\b(?:comida|comer|almuerzo|almorzar|lunch|mediodia|midday)\b")),
)
# When each part of the day can be, in minutes after midnight: a time outside
# every part the guest said contradicts them ("esta noche a las 14:00").
_PART_SPANS: dict[str, tuple[tuple[int, int], ...]] = {
    "night": ((17 * 60, 24 * 60), (0, 4 * 60)),
    "afternoon": ((12 * 60, 22 * 60),),
    "morning": ((5 * 60, 13 * 60),),
    "lunch": ((11 * 60 + 30, 17 * 60 + 30),),
}
# How a part said elsewhere turns an hour from 1 to 12 into 24 hours.
_PART_AS_READING = {"night": "night", "afternoon": "pm", "morning": "morning", "lunch": "lunch"}

_PARTS = {
    "am": "am",
    "a m": "am",
    "pm": "pm",
    "p m": "pm",
    "p": "pm",
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
class Reading:
    """An hour as said plus a minute offset, resolved once the whole message is known."""

    hour: int
    offset: int
    part: str | None
    explicit: bool = False

    def resolve(
        self, said: Sequence[str], services: Sequence[ServiceHours]
    ) -> tuple[time | None, Ambiguity | None]:
        """``said`` are the parts of the day named elsewhere in the message."""
        if self.hour > 24 or not (-59 <= self.offset <= 59):
            return None, None
        hint = _hint(said)
        part = self.part or hint
        if self.part is None and part == "night" and self.hour == 12 and not self.explicit:
            # "las 12 de la noche" said at the time is midnight, but "para cenar … a
            # las 12:30" may as well mean half past noon: ask rather than guess.
            return None, _conflict((12 * 60 + self.offset) % 1440, said, services)
        if self.explicit or self.hour == 0 or (self.hour >= 12 and part is None):
            hour = self.hour % 24
        elif part is not None:
            hour = _with_part(self.hour, part)
        else:
            am = (self.hour * 60 + self.offset) % 1440
            pm = am + 720 if am < 720 else am
            in_am, in_pm = _in_service(am, services), _in_service(pm, services)
            if in_am and in_pm and am != pm:
                return None, Ambiguity("two_services", times=(_clock(am), _clock(pm)))
            hour = self.hour if in_am and not in_pm else self.hour + 12
        total = (hour * 60 + self.offset) % 1440
        if said and not any(_within(total, p) for p in said):
            return None, _conflict(total, said, services)
        return _clock(total), None


def _clock(minute_of_day: int) -> time:
    return time(minute_of_day // 60, minute_of_day % 60)


def _within(minute_of_day: int, part: str) -> bool:
    return any(lo <= minute_of_day < hi for lo, hi in _PART_SPANS[part])


def in_part(value: time, part: str) -> bool:
    """Whether a time belongs to a part of the day ("night", "afternoon", "morning", "lunch")."""
    return part in _PART_SPANS and _within(value.hour * 60 + value.minute, part)


def _conflict(total: int, said: Sequence[str], services: Sequence[ServiceHours]) -> Ambiguity:
    """The time as said, and the same clock reading twelve hours away when that
    fits the part of day said (and the restaurant is open then); else the part
    of day, to ask for a time in it."""
    other = (total + 720) % 1440
    open_then = not services or _in_service(other, services)
    if open_then and any(_within(other, p) for p in said):
        return Ambiguity("part_of_day", times=(_clock(total), _clock(other)))
    return Ambiguity("part_of_day", times=(_clock(total),), part=said[0])


def part_said(suffix: str | None, parts: Sequence[str | None]) -> str | None:
    """The part of day said right at the time: "pm" first, then "de la noche"."""
    for token in (suffix, *parts):
        if token is not None and token in _PARTS:
            return _PARTS[token]
    return None


def said_parts(norm: str) -> list[str]:
    return [name for name, pattern in _SAID_PARTS if pattern.search(norm)]


def _hint(said: Sequence[str]) -> str | None:
    """How the parts said elsewhere read an hour from 1 to 12; none when they disagree."""
    evening = [p for p in said if p in {"night", "afternoon"}]
    if evening and "morning" in said:
        return None
    for name in ("afternoon", "night", "morning", "lunch"):
        if name in said:
            return _PART_AS_READING[name]
    return None
