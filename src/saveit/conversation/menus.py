"""What the bot shows: times and bookings to pick from, a booking's facts, the hours.

Choices carry what they stand for in their ids — ``t:<UTC instant>`` for a time,
``r:<code>`` for a booking — so a tap (or a number typed on SMS) needs no
lookup in what was said before. Three choices or fewer are buttons; more are
a list (WhatsApp shows ten rows at most, so long days are thinned evenly
rather than cut after the first ten).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from saveit.conversation import replies as r
from saveit.conversation.desk import Desk
from saveit.domain import wording as w
from saveit.domain.messages import Button, ListOption
from saveit.domain.model import ServiceHours
from saveit.domain.views import ReservationView

MAX_ROWS = 10  # a WhatsApp list holds ten rows


@dataclass(frozen=True, slots=True)
class Menu:
    """What a question offers: up to three buttons, or a list."""

    buttons: tuple[Button, ...] = ()
    options: tuple[ListOption, ...] = ()
    label: str = ""


def _menu(rows: list[tuple[str, str, str]], label: str) -> Menu:
    if len(rows) <= 3:
        return Menu(tuple(Button(i, t) for i, t, _ in rows))
    return Menu(options=tuple(ListOption(i, t, d) for i, t, d in rows), label=label)


def times(desk: Desk, lang: str, starts: list[datetime], day: date | None) -> Menu:
    """Free starts; those on ``day`` by time alone, others with their date."""
    rows = []
    for start in spread(starts, MAX_ROWS):
        local = desk.local(start)
        title = w.clock(local)
        if local.date() != day:
            title = f"{w.short_day(lang, local.date())} {title}"
        rows.append((f"t:{start.isoformat()}", title, ""))
    return _menu(rows, r.say(lang, "see_times"))


def bookings(desk: Desk, lang: str, mine: list[ReservationView]) -> Menu:
    rows = []
    for booking in mine[:MAX_ROWS]:
        local = desk.local(booking.start)
        title = f"{w.short_day(lang, local.date())} {w.clock(local)}"
        rows.append(
            (f"r:{booking.code}", title, f"{booking.code} · {w.party(lang, booking.party_size)}")
        )
    return _menu(rows, r.say(lang, "see_bookings"))


def facts(desk: Desk, lang: str, booking: ReservationView) -> dict[str, object]:
    local = desk.local(booking.start)
    return {
        "code": booking.code,
        "day": w.day(lang, local.date()),
        "time": w.clock(local),
        "party": w.party(lang, booking.party_size),
    }


def bookings_list(desk: Desk, lang: str, mine: list[ReservationView]) -> str:
    lines = [r.say(lang, "your_bookings")]
    for booking in mine:
        f = facts(desk, lang, booking)
        lines.append(f"• {f['code']}: {f['day']}, {f['time']}, {f['party']}")
    return "\n".join(lines)


def opening_hours(desk: Desk, lang: str, day: date | None) -> str:
    """One date's hours (special dates included), or the week's."""
    if day is not None:
        hours = desk.hours(day)
        if not hours:
            return r.say(lang, "closed_day", day=w.day(lang, day))
        return r.say(lang, "hours_day", day=w.day(lang, day), hours=spans(lang, hours))
    closed = r.say(lang, "closed")
    lines = []
    for weekday in range(7):
        week = [s.hours for s in desk.restaurant.services if s.weekday == weekday]
        text = spans(lang, week) if week else closed
        lines.append(f"• {w.weekday_name(lang, weekday).capitalize()}: {text}")
    if not desk.restaurant.services:
        return r.say(lang, "closed_always")
    return r.say(lang, "hours_week", lines="\n".join(lines))


def spans(lang: str, hours: Sequence[ServiceHours]) -> str:
    """ "de 13:00 a 16:00 y de 20:00 a 23:30"."""
    parts = [
        r.say(lang, "from_to", opens=w.clock(h.opens), closes=w.clock(h.closes))
        for h in sorted(hours, key=lambda h: h.opens)
    ]
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} {r.say(lang, 'and')} {parts[-1]}"


def spread(starts: list[datetime], most: int) -> list[datetime]:
    """At most ``most`` starts, spread over the whole range rather than the first few."""
    if len(starts) <= most:
        return starts
    step = (len(starts) - 1) / (most - 1)
    return [starts[round(i * step)] for i in range(most)]
