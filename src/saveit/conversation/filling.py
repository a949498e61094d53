"""Reading a guest's message into the pending request.

Two ways in: whatever slots the parser found overwrite the request's (that is
how corrections work: "no, mejor a las 22:00" replaces the time and keeps the
rest), and a bare answer to the question just asked ("4", "9", "15", "Ana
García") is read in that question's light — a lone number means nothing by
itself, but after "¿Cuántas personas?" it is the party size.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from saveit.conversation.desk import Desk
from saveit.conversation.nlu import Parse
from saveit.conversation.state import Request
from saveit.conversation.times import find_time
from saveit.domain.model import ServiceHours

_NAME = re.compile(r"[^\W\d_]+(?:[ '-][^\W\d_]+){0,3}")


def has_slots(p: Parse) -> bool:
    """A day or time left open counts: "a las 9" answers "¿a qué hora?" with a question."""
    values = (p.date, p.time, p.party_size, p.name, p.area, p.ambiguity)
    return any(v is not None for v in values)


def fill(request: Request, p: Parse, desk: Desk) -> None:
    """Overwrite the request's slots with those the message states."""
    if p.date is not None:
        request.day = p.date.isoformat()
    if p.time is not None:
        request.at = p.time.strftime("%H:%M")
    if p.party_size is not None:
        request.party_size = p.party_size
    if p.name:
        request.name = p.name
    if p.area:
        request.area = p.area
    if p.code:
        request.code = p.code.upper()
    elif p.ordinal is not None and request.flow != "book" and request.code is None:
        mine = desk.upcoming()
        if mine and (p.ordinal == -1 or p.ordinal <= len(mine)):
            request.code = mine[p.ordinal - 1 if p.ordinal > 0 else -1].code


def answer(request: Request, p: Parse, text: str, awaiting: str | None, desk: Desk) -> bool:
    """Read the message as the answer to the pending question; False when it says
    nothing the request can use."""
    if has_slots(p) or p.code or p.ordinal is not None:
        fill(request, p, desk)
        return True
    bare = text.strip()
    if awaiting == "party_size" and bare.isdigit() and 0 < int(bare) <= 100:
        request.party_size = int(bare)
        return True
    if awaiting == "time" and bare.isdigit():
        guessed = find_time(f"a las {bare}", _services(desk, request.date))
        if guessed is not None:
            request.at = guessed.strftime("%H:%M")
            return True
    if awaiting == "date" and bare.isdigit():
        day = _day_of_month(desk.now().date(), int(bare))
        if day is not None:
            request.day = day.isoformat()
            return True
    if awaiting == "name" and p.affirm is None and p.intent == "unknown" and _NAME.fullmatch(bare):
        request.name = " ".join(w.capitalize() for w in bare.split())
        return True
    return False


def _services(desk: Desk, day: date | None) -> list[ServiceHours]:
    if day is not None:
        return list(desk.hours(day))
    today = desk.now().date()
    return [h for d in range(7) for h in desk.hours(today + timedelta(days=d))]


def _day_of_month(today: date, day: int) -> date | None:
    """The next date (today included) that is the ``day``-th of its month."""
    for months in range(3):
        year = today.year + (today.month - 1 + months) // 12
        month = (today.month - 1 + months) % 12 + 1
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None
