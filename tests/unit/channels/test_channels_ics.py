"""The reservation's calendar event: what a guest's calendar reads back from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from saveit.channels.email.ics import PRODID, reservation_event

MADRID = ZoneInfo("Europe/Madrid")
START = datetime(2026, 12, 5, 21, 30, tzinfo=MADRID)
STAMP = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(**overrides: object) -> bytes:
    args: dict[str, object] = {
        "uid": "reservation-1842@casalola.example",
        "start": START,
        "end": START + timedelta(hours=2),
        "summary": "Cena en Casa Lola; mesa para 4, terraza",
        "location": "Calle Mayor 1, Logroño",
        "description": "Reserva a nombre de Marta.\nCambiar: https://book.example.com/m/abc",
        "organizer_email": "reservas@casalola.example",
        "stamp": STAMP,
    }
    args.update(overrides)
    return reservation_event(**args)  # type: ignore[arg-type]


def read(data: bytes) -> tuple[Any, Any]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_round_trip_reads_back_every_field() -> None:
    calendar, vevent = read(event())

    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(vevent["UID"]) == "reservation-1842@casalola.example"
    assert vevent.decoded("DTSTART") == datetime(2026, 12, 5, 20, 30, tzinfo=UTC)
    assert vevent.decoded("DTEND") == datetime(2026, 12, 5, 22, 30, tzinfo=UTC)
    assert vevent.decoded("DTSTAMP") == STAMP
    assert int(vevent["SEQUENCE"]) == 0
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["SUMMARY"]) == "Cena en Casa Lola; mesa para 4, terraza"
    assert str(vevent["LOCATION"]) == "Calle Mayor 1, Logroño"
    assert str(vevent["DESCRIPTION"]).splitlines() == [
        "Reserva a nombre de Marta.",
        "Cambiar: https://book.example.com/m/abc",
    ]
    assert str(vevent["ORGANIZER"]) == "mailto:reservas@casalola.example"


def test_times_are_written_in_utc_and_lines_follow_rfc5545() -> None:
    data = event()
    assert b"DTSTART:20261205T203000Z\r\n" in data
    assert b"DTEND:20261205T223000Z\r\n" in data
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded


def test_update_keeps_the_uid_and_raises_the_sequence() -> None:
    _, first = read(event())
    _, moved = read(
        event(start=START + timedelta(hours=1), end=START + timedelta(hours=3), sequence=1)
    )
    assert str(moved["UID"]) == str(first["UID"])
    assert int(moved["SEQUENCE"]) == 1


def test_cancellation_is_a_cancel_with_status_cancelled() -> None:
    calendar, vevent = read(event(cancelled=True, sequence=2))
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert str(calendar["METHOD"]) == "CANCEL"
    assert int(vevent["SEQUENCE"]) == 2


def test_publish_method_and_no_organizer() -> None:
    calendar, vevent = read(
        event(method="publish", organizer_email=None, location="", description="")
    )
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "ORGANIZER" not in vevent
    assert "LOCATION" not in vevent
    assert "DESCRIPTION" not in vevent


@pytest.mark.parametrize(
    "overrides",
    [
        {"start": datetime(2026, 12, 5, 21, 30)},
        {"end": START},
        {"end": START - timedelta(minutes=1)},
        {"method": "REPLY"},
        {"sequence": -1},
    ],
)
def test_invalid_events_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        event(**overrides)
