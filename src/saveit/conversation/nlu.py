"""Understanding one guest message: intent, language and slots, offline and deterministic.

Every reader works on one normal form of the text (see :mod:`.text`), except
the name and the booking code, which need the capitals the guest typed. The
readers do not depend on each other's answers with one exception: an hour
without am/pm is placed in the restaurant's services of the day the message
names, or, with no day, in any service of the coming week, since that is the
window in which guests book.

Some phrases carry a day, an hour or a number without stating a slot, and
only the whole message shows it: the person a guest asks to speak to ("hablar
con una persona" is no party of one), a change by a count ("una persona mas",
"add two people": the new size is unknown, not one or two), a farewell ("hasta
manana", "see you tomorrow") and a menu's name ("menu de mediodia"). They are
blanked before the slot readers see the text, so nothing is read from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from saveit.conversation import dates, intents, lang, party, slots, times
from saveit.conversation.ambiguity import Ambiguity
from saveit.conversation.text import normalize
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
    ambiguity: Ambiguity | None = None  # a day or time the message leaves open
    verbless: bool = False  # a booking read from listed facts alone ("2 pax, viernes, 21h")

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
            "ambiguous": self.ambiguity.kind if self.ambiguity else None,
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
    norm = normalize(text)
    language = lang.detect(norm, lang_hint)
    said = _UNSAID.sub(" ", norm)
    day, day_doubt = dates.read_date(said, now.date())
    hours: Sequence[ServiceHours] = ()
    if services is not None:
        hours = services(day) if day is not None else _week_services(services, now.date())
    hour, doubt = times.read_time(said, hours)
    intent = intents.classify(norm, language)
    size = party.find_party_size(said)
    # Facts alone, a party and a day ("party of 6, saturday, 13:30"), ask for a table;
    # a party and a time ("for 2 at 10") or a question ("we'll be 3 tonight, ok?")
    # answer what the dialogue asked.
    verbless = (
        intent == "unknown"
        and size is not None
        and (day is not None or day_doubt is not None)
        and "?" not in text
    )
    return Parse(
        intent="book" if verbless else intent,
        lang=language,
        date=day,
        time=hour,
        ambiguity=day_doubt or doubt,
        verbless=bool(verbless),
        party_size=size,
        name=slots.find_name(text),
        area=slots.find_area(norm),
        code=slots.find_code(text),
        ordinal=slots.find_ordinal(norm),
        affirm=slots.find_affirm(norm),
    )


_WEEK = 7
_COUNT = r"(?:una|uno|un|dos|tres|cuatro|cinco|one|two|three|four|five|another|an|a|\d{1,2})"
_PEOPLE = r"(?:personas?|comensales?|adultos?|ninos?|persons?|people|guests?|adults?|kids?)"
_MINUTES = r"(?:media|cuarto|cinco|diez|veinte|veinticinco|\d)"
_UNSAID = re.compile(
    # the person to speak to
    r"\b(?:con|a|to|with|atender|atienda|atiende) (?:una|un|a|an|alguna) (?:persona|person)\b"
    r"(?: real| de verdad)?"
    # a change by a count
    # ("las tres menos cuarto" is a time)
    r"|\b" + _COUNT + r"(?: " + _PEOPLE + r")? (?:mas|menos(?! " + _MINUTES + r")|more|less|"
    r"fewer|extra)\b(?! o menos)(?: " + _PEOPLE + r")?"
    r"|\b(?:anadir|anade|anadid|agregar|agrega|sumar|suma|add|adding)(?: (?:a|an))? "
    + _COUNT
    + r"(?: (?:more|extra))?(?: "
    + _PEOPLE
    + r")?"
    # a farewell that closes the message
    r"|\b(?:hasta manana|nos vemos manana|see you tomorrow|see you then)$"
    # a menu's name
    r"|\bmenu (?:de|del) (?:mediodia|dia|noche)\b"
)


def _week_services(services: ServicesFor, today: date) -> tuple[ServiceHours, ...]:
    seen: dict[tuple[time, time], ServiceHours] = {}
    for offset in range(_WEEK):
        for hours in services(today + timedelta(days=offset)):
            seen.setdefault((hours.opens, hours.closes), hours)
    return tuple(seen.values())
