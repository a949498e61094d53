"""What a new booking leaves behind, whichever way it was written: its seating, its
audit row, its event and its slot's covers.

On PostgreSQL a guest's booking is written in one statement (``store.booked``)
while one with an ``Idempotency-Key`` takes two (the key is bound in between);
on SQLite each part is a statement of its own. All of them must leave the same
rows, and a booking that lost its table to a racing one must leave no record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from saveit.bootstrap import Container
from saveit.domain.availability import cells
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.views import ReservationView
from saveit.store.schema import (
    dining_tables,
    outbox,
    reservation_log,
    reservation_tables,
    slot_covers,
    table_claims,
)

GUEST = Actor("guest", "web", "webchat")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid


def _book(container: Container, party: int, phone: str, key: str | None) -> ReservationView:
    return container.booking.create(
        CreateReservation(
            "demo", DINNER, party, GuestDetails(name="Ana", phone=phone), idempotency_key=key
        ),
        GUEST,
    ).reservation


def _records(conn: Connection, reservation_id: int, code: str) -> dict[str, Any]:
    """What is written of one booking, read on ``conn``."""
    logged = conn.execute(
        select(reservation_log.c.action, reservation_log.c.before, reservation_log.c.after).where(
            reservation_log.c.reservation_id == reservation_id
        )
    ).all()
    events = [
        (row.type, row.payload["reservation"], row.payload["actor"])
        for row in conn.execute(
            select(outbox.c.type, outbox.c.payload).where(outbox.c.type.like("reservation.%"))
        )
        if row.payload["reservation"]["code"] == code
    ]
    seated = conn.execute(
        select(dining_tables.c.code)
        .join(reservation_tables, reservation_tables.c.table_id == dining_tables.c.id)
        .where(reservation_tables.c.reservation_id == reservation_id)
    ).scalars()
    claims = conn.execute(
        select(func.count()).where(table_claims.c.reservation_id == reservation_id)
    ).scalar_one()
    return {
        "logged": [tuple(row) for row in logged],
        "events": events,
        "seated": sorted(seated),
        "claimed cells": claims,
    }


def _covers(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.execute(select(func.coalesce(func.sum(slot_covers.c.covers), 0))).scalar_one()
        )


def test_every_way_a_booking_is_written_leaves_the_same_records(
    container: Container, demo: str
) -> None:
    plain = _book(container, 2, "600111222", key=None)
    keyed = _book(container, 4, "600333444", key="retry-me")

    for view in (plain, keyed):
        stay = cells(view.start, view.end, view.buffer_minutes)
        with container.engine.connect() as conn:
            written = _records(conn, view.id, view.code)
        assert written == {
            "logged": [("created", None, view.snapshot())],
            "events": [("reservation.created", view.snapshot(), GUEST.label)],
            "seated": sorted(view.tables),
            "claimed cells": len(view.tables) * len(stay),
        }
    assert _covers(container) == 6


def test_a_booking_that_lost_its_table_is_not_recorded(container: Container, demo: str) -> None:
    """The store's side of a race: another booking holds a cell of the table this one
    wanted. Its reservation stays, unseated, for the next table; nothing of it is
    recorded yet and none of its claims are left behind."""
    held = _book(container, 2, "600111222", key=None)
    later = replace(held, id=0, code="RACE0001", created_at=held.created_at + timedelta(1))
    stay = cells(later.start, later.end, later.buffer_minutes)
    with container.engine.connect() as conn:
        table_id = conn.execute(
            select(dining_tables.c.id).where(dining_tables.c.code == held.tables[0])
        ).scalar_one()
    covers_before = _covers(container)
    with container.db.unit_of_work() as uow:
        made, claimed, counted = uow.reservations.insert_booked(
            later, None, [table_id], stay, GUEST, None
        )
        assert made is not None
        assert (claimed, counted) == (False, False)
        assert _records(uow.connection, made, later.code) == {
            "logged": [],
            "events": [],
            "seated": [],
            "claimed cells": 0,
        }
    assert _covers(container) == covers_before
