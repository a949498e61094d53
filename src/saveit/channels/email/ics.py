"""A reservation as an iCalendar (RFC 5545) event, attached to confirmation emails.

Guests add the booking to their calendar with one click, and later updates of
the same reservation (new time, cancellation) replace that entry instead of
adding a second one: calendars match events by ``UID`` and keep the one with the
highest ``SEQUENCE``. So the caller keeps the UID stable per reservation and
raises the sequence on every change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress

PRODID = "-//SaveIt//Reservations//EN"
METHODS = frozenset({"REQUEST", "PUBLISH", "CANCEL"})


def reservation_event(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    location: str,
    description: str,
    organizer_email: str | None,
    method: str = "REQUEST",
    sequence: int = 0,
    cancelled: bool = False,
    stamp: datetime | None = None,
) -> bytes:
    """One VCALENDAR holding one VEVENT, serialised with CRLF line endings.

    Times are written in UTC (``...Z``): a guest abroad sees the table at the
    right local hour without us shipping a VTIMEZONE. ``cancelled`` marks the
    event ``STATUS:CANCELLED``; a cancellation sent with the default ``REQUEST``
    method goes out as ``METHOD:CANCEL``, because calendars only remove an
    invitation on a CANCEL and would otherwise keep the table in the guest's
    diary. ``stamp`` (``DTSTAMP``, when this version was made) defaults to now.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError("end must be after start")
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}")
    if cancelled and method == "REQUEST":
        method = "CANCEL"
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    if organizer_email:
        event.add("organizer", vCalAddress(f"mailto:{organizer_email}"))
    calendar.add_component(event)
    return bytes(calendar.to_ical())
