"""Understanding one guest message: intent, language and slots, offline and deterministic.

(Interface fixed; the implementation of :func:`parse` lands with the parser.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from saveit.domain.model import ServiceHours

INTENTS = (
    "book",
    "check_availability",
    "cancel",
    "modify",
    "my_reservations",
    "opening_hours",
    "greeting",
    "human_handoff",
    "unknown",
)


@dataclass(frozen=True, slots=True)
class Parse:
    intent: str  # one of INTENTS
    lang: str  # "es" | "en"
    date: date | None = None
    time: time | None = None
    party_size: int | None = None
    name: str | None = None
    area: str | None = None  # "terrace" | "indoor"
    code: str | None = None  # a reservation code the guest quoted ("ABC123")
    ordinal: int | None = None  # "the second one" / "la primera": 1-based
    affirm: bool | None = None  # yes / no, for confirmation questions

    def to_json(self) -> dict[str, Any]:
        """The shape ``saveit parse`` prints."""
        return {
            "intent": self.intent,
            "lang": self.lang,
            "date": self.date.isoformat() if self.date else None,
            "time": self.time.strftime("%H:%M") if self.time else None,
            "party_size": self.party_size,
            "name": self.name,
            "area": self.area,
            "code": self.code,
            "ordinal": self.ordinal,
            "affirm": self.affirm,
        }


ServicesFor = Callable[[date], Sequence[ServiceHours]]


def parse(
    text: str,
    *,
    now: datetime,
    lang_hint: str | None = None,
    services: ServicesFor | None = None,
) -> Parse:
    """``now`` is aware and already in the restaurant's time zone; ``services``
    gives the opening hours of a local date (for "a las 9" at a dinner-only place)."""
    raise NotImplementedError
