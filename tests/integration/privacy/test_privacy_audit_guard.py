"""The audit log stays append-only; the one UPDATE it lets through is a guest's
erasure rewriting snapshots, inside the erasing transaction, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from saveit.bootstrap import Container
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.schema import erasure_in_progress, guests, reservation_log

GUEST = Actor("guest", "web", "web")


@pytest.fixture
def logged(container: Container, demo: str) -> int:
    """A booking whose audit row carries the guest's note; returns the row's id."""
    container.booking.create(
        CreateReservation(
            demo,
            datetime(2026, 6, 3, 19, 0, tzinfo=UTC),
            2,
            GuestDetails(name="Ana", phone="600111222"),
            notes="sin gluten, Ana",
        ),
        GUEST,
    )
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.max(reservation_log.c.id))).scalar_one())


@pytest.fixture
def guest(container: Container, logged: int) -> int:
    """The id of the guest the logged booking belongs to."""
    with container.engine.connect() as conn:
        return int(conn.execute(select(guests.c.id)).scalar_one())


def _flag(conn: Connection, guest_id: int) -> None:
    """What the erasure of a guest does before touching the log (see saveit.store.erasure)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL saveit.erasure = '{guest_id}'"))
    else:
        conn.execute(insert(erasure_in_progress).values(guest_id=guest_id))


def _unflag(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(delete(erasure_in_progress))


def test_a_plain_update_or_delete_of_the_audit_log_is_refused(
    container: Container, logged: int
) -> None:
    for statement in (
        update(reservation_log).values(after=None),
        update(reservation_log).values(actor="someone"),
        delete(reservation_log),
    ):
        with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
            conn.execute(statement)


def test_inside_an_erasure_only_the_snapshots_may_change(
    container: Container, logged: int, guest: int
) -> None:
    where = reservation_log.c.id == logged
    with container.engine.begin() as conn:
        _flag(conn, guest)
        conn.execute(update(reservation_log).where(where).values(after={"notes": ""}))
        _unflag(conn)
    with container.engine.connect() as conn:
        assert conn.execute(select(reservation_log.c.after).where(where)).scalar_one() == {
            "notes": ""
        }
    for statement in (
        update(reservation_log).where(where).values(action="cancelled"),
        update(reservation_log).where(where).values(actor="someone", after=None),
        delete(reservation_log).where(where),
    ):
        with container.engine.connect() as conn, conn.begin():
            _flag(conn, guest)
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(statement)
            conn.rollback()


def test_the_erasure_of_one_guest_opens_no_other_guests_rows(
    container: Container, logged: int, guest: int
) -> None:
    with container.engine.connect() as conn, conn.begin():
        _flag(conn, guest + 1)
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(update(reservation_log).values(after=None))
        conn.rollback()


def test_the_permission_ends_with_the_erasing_transaction(
    container: Container, logged: int, guest: int
) -> None:
    with container.engine.begin() as conn:
        _flag(conn, guest)
        _unflag(conn)
    with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
        conn.execute(update(reservation_log).values(after=None))
