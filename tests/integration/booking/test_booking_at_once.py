"""A guest's booking written as one statement that is its own transaction
(``store.booked_at_once``): one round trip on PostgreSQL, the same guest, key and
records as the transactional path, and nothing at all when it cannot be whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select, update

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.availability import cells
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from saveit.store.schema import (
    dining_tables,
    guests,
    idempotency_keys,
    outbox,
    reservation_log,
    reservation_tables,
    reservations,
    slot_covers,
    table_claims,
)
from tests.support import demo_document

GUEST = Actor("guest", "web", "webchat")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
WRITTEN = (
    reservations,
    guests,
    table_claims,
    reservation_tables,
    reservation_log,
    outbox,
    idempotency_keys,
)


def _book(
    container: Container,
    details: GuestDetails,
    *,
    start: datetime = DINNER,
    party: int = 2,
    actor: Actor = GUEST,
    key: str | None = None,
    guest_id: int | None = None,
) -> ReservationView:
    return container.booking.create(
        CreateReservation("demo", start, party, details, idempotency_key=key, guest_id=guest_id),
        actor,
    ).reservation


@contextmanager
def _statements(container: Container) -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent while the block runs, with whether its connection was
    in autocommit (no ``BEGIN`` before it, no ``COMMIT`` after it)."""
    seen: list[tuple[str, bool]] = []

    def _record(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement, bool(conn.connection.driver_connection.autocommit)))

    event.listen(container.engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(container.engine, "before_cursor_execute", _record)


def _counts(container: Container) -> dict[str, int]:
    with container.engine.connect() as conn:
        found = {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in WRITTEN
        }
        found["covers"] = int(
            conn.execute(select(func.coalesce(func.sum(slot_covers.c.covers), 0))).scalar_one()
        )
    return found


@ON_POSTGRES
def test_a_guests_booking_is_one_statement_with_no_transaction_around_it(
    container: Container, demo: str
) -> None:
    _book(container, GuestDetails(name="Warm", phone="+34600000001"))  # caches warm
    with _statements(container) as seen:
        made = _book(container, GuestDetails(name="Ana", phone="+34600111222"))
    writes = [(sql, autocommit) for sql, autocommit in seen if not sql.startswith("SELECT")]
    assert len(writes) == 1, writes
    assert writes[0][0].startswith("WITH guest AS (")
    assert writes[0][1], "the write ran inside a transaction: BEGIN and COMMIT round trips"
    assert made.guest is not None
    assert made.guest.phone == "+34600111222"
    assert made.status is Status.CONFIRMED


@ON_POSTGRES
def test_a_chats_keyed_booking_is_one_statement_and_replays_as_before(
    container: Container, demo: str
) -> None:
    """The bot's booking names its guest by id and carries an Idempotency-Key: the
    guest's blanks, the booking and the key are one statement, and the key replays."""
    first = _book(container, GuestDetails(phone="+34600111222"))
    assert first.guest is not None
    later = DINNER + timedelta(days=1)
    chat = GuestDetails(name="Ana", language="en")
    with _statements(container) as seen:
        made = _book(container, chat, start=later, key="chat-1", guest_id=first.guest.id)
    writes = [(sql, autocommit) for sql, autocommit in seen if not sql.startswith("SELECT")]
    assert len(writes) == 1, writes
    assert writes[0][0].startswith("WITH guest AS (UPDATE guests")
    assert writes[0][1], "the write ran inside a transaction: BEGIN and COMMIT round trips"
    assert made.guest == replace(first.guest, name="Ana", language="en")

    before = _counts(container)
    again = container.booking.create(
        CreateReservation(
            "demo", later, 2, chat, idempotency_key="chat-1", guest_id=first.guest.id
        ),
        GUEST,
    )
    assert (again.replayed, again.reservation.code) == (True, made.code)
    assert _counts(container) == before
    with pytest.raises(errors.Conflict):
        _book(container, chat, start=later, party=4, key="chat-1", guest_id=first.guest.id)
    assert _counts(container) == before


def test_a_guest_id_the_restaurant_does_not_have_books_nothing(
    container: Container, demo: str
) -> None:
    """On both backends: the statement refuses, and the transactional path answers."""
    before = _counts(container)
    for key in (None, "k-unknown"):
        with pytest.raises(errors.NotFound):
            _book(container, GuestDetails(name="Ana"), key=key, guest_id=987654)
    assert _counts(container) == before


def test_a_guest_named_by_id_keeps_their_data_and_only_blanks_are_filled(
    container: Container, demo: str
) -> None:
    """As ``guests.known`` does it, on both backends: a name, a language and an email
    no other guest has are filled; what the guest has stays."""
    other = _book(container, GuestDetails(name="Eva", email="eva@example.com"))
    first = _book(container, GuestDetails(phone="+34600111222"))
    assert first.guest is not None
    assert other.guest is not None
    gid = first.guest.id

    taken = GuestDetails(name="Ana", language="es", email="eva@example.com")
    second = _book(container, taken, start=DINNER + timedelta(days=1), key="a", guest_id=gid)
    assert second.guest == replace(first.guest, name="Ana", language="es")

    third = _book(
        container,
        GuestDetails(name="Bea", language="en", email="ana@example.com"),
        start=DINNER + timedelta(days=2),
        key="b",
        guest_id=gid,
    )
    assert third.guest == replace(second.guest, email="ana@example.com")
    with container.engine.connect() as conn:
        row = conn.execute(
            select(guests.c.name, guests.c.phone, guests.c.email, guests.c.language).where(
                guests.c.id == gid
            )
        ).one()
    assert tuple(row) == ("Ana", "+34600111222", "ana@example.com", "es")


def test_a_known_guest_keeps_their_data_and_only_blanks_are_filled(
    container: Container, demo: str
) -> None:
    """As the transactional path does it (``guests.find_or_create``), on both backends."""
    other = _book(container, GuestDetails(name="Eva", email="eva@example.com"))
    first = _book(container, GuestDetails(phone="+34600111222"))
    assert first.guest is not None
    assert (first.guest.name, first.guest.email) == ("", None)

    later = DINNER + timedelta(days=1)
    second = _book(
        container,
        GuestDetails(name="Ana", phone="+34600111222", email="ana@example.com", language="en"),
        start=later,
    )
    assert second.guest == replace(first.guest, name="Ana", email="ana@example.com", language="en")

    third = _book(
        container,
        GuestDetails(name="Bea", phone="+34600111222", email="bea@example.com", language="es"),
        start=later + timedelta(days=1),
    )
    assert third.guest == second.guest  # nothing blank any more: nothing changes

    # a new guest by phone does not take an email another guest has
    fourth = _book(
        container,
        GuestDetails(name="Pia", phone="+34600333444", email="eva@example.com"),
        start=later,
    )
    assert fourth.guest is not None
    assert fourth.guest.email is None
    assert other.guest is not None
    assert other.guest.email == "eva@example.com"

    with container.engine.connect() as conn:
        rows = conn.execute(
            select(guests.c.name, guests.c.phone, guests.c.email, guests.c.language).order_by(
                guests.c.id
            )
        ).all()
        booked_by = dict(conn.execute(select(reservations.c.code, reservations.c.guest_id)).all())
    assert [tuple(row) for row in rows] == [
        ("Eva", None, "eva@example.com", None),
        ("Ana", "+34600111222", "ana@example.com", "en"),
        ("Pia", "+34600333444", None, None),
    ]
    assert {booked_by[v.code] for v in (first, second, third)} == {first.guest.id}


def _later_booking(container: Container, held: ReservationView) -> tuple[ReservationView, int]:
    """A booking like ``held`` at its table (another guest, a fresh code) and that
    table's id, for the store's statement to be asked to write."""
    later = replace(held, id=0, code="LATE0001", guest=None)
    with container.engine.connect() as conn:
        table_id = conn.execute(
            select(dining_tables.c.id).where(dining_tables.c.code == held.tables[0])
        ).scalar_one()
    return later, table_id


def _at_once(
    container: Container,
    view: ReservationView,
    table_id: int,
    *,
    cap: int | None = None,
    pending_from: int | None = None,
    details: GuestDetails | None = None,
    guest_id: int | None = None,
    key: tuple[str, str] | None = None,
) -> Any:
    at_once = container.db.on_its_own()
    assert at_once is not None
    with at_once as uow:
        return uow.reservations.insert_booked_at_once(
            view,
            details or GuestDetails(name="Late", phone="+34699000111"),
            None,
            [table_id],
            cells(view.start, view.end, view.buffer_minutes),
            GUEST,
            cap,
            pending_from,
            guest_id=guest_id,
            key=key,
        )


@ON_POSTGRES
def test_a_statement_that_cannot_write_the_booking_whole_writes_nothing(
    container: Container, demo: str
) -> None:
    """Each way the one statement can fall short leaves no row of it, its guest's
    included, so its caller's transaction starts from a clean slate."""
    held = _book(container, GuestDetails(name="Ana", phone="+34600111222"))
    later, table_id = _later_booking(container, held)
    with container.engine.connect() as conn:
        free_id = (
            conn.execute(
                select(dining_tables.c.id).where(
                    dining_tables.c.id.not_in(
                        select(reservation_tables.c.table_id).scalar_subquery()
                    ),
                    dining_tables.c.max_capacity >= held.party_size,
                )
            )
            .scalars()
            .first()
        )
    assert free_id is not None
    before = _counts(container)

    assert _at_once(container, later, table_id) is None  # a cell is held
    assert _at_once(container, later, free_id, cap=held.party_size) is None  # cap reached
    assert _at_once(container, replace(later, code=held.code), free_id) is None  # code taken
    with container.engine.begin() as conn:
        conn.execute(update(guests).values(no_show_count=2))
    known = GuestDetails(name="Ana", phone="+34600111222")
    assert _at_once(container, later, free_id, pending_from=2, details=known) is None
    # a guest id the restaurant does not have, and an Idempotency-Key stored already
    assert _at_once(container, later, free_id, guest_id=held.guest.id + 1000) is None
    with container.engine.begin() as conn:
        conn.execute(
            idempotency_keys.insert().values(
                restaurant_id=held.restaurant_id,
                key="k-held",
                request_hash="h" * 64,
                created_at=held.created_at,
            )
        )
    before = _counts(container)
    assert _at_once(container, later, free_id, key=("k-held", "h" * 64)) is None
    assert _counts(container) == before

    # and the same statement with nothing in its way writes it whole, key included
    made = _at_once(container, later, free_id, pending_from=3, details=known, key=("k-new", "h"))
    assert made is not None
    assert made.guest.id == held.guest.id
    after = _counts(container)
    assert after["reservations"] == before["reservations"] + 1
    assert after["outbox"] == before["outbox"] + 1
    assert after["idempotency_keys"] == before["idempotency_keys"] + 1
    assert after["covers"] == before["covers"] + later.party_size
    with container.engine.connect() as conn:
        bound = conn.execute(
            select(idempotency_keys.c.reservation_id).where(idempotency_keys.c.key == "k-new")
        ).scalar_one()
    assert bound == made.reservation_id


def test_a_guest_past_the_no_show_limit_still_books_pending(container: Container) -> None:
    """The one statement refuses and the transactional path decides."""
    doc = demo_document()
    apply_spec(
        container.engine,
        parse_document({**doc, "rules": {**doc["rules"], "no_show_approval_after": 2}}),
    )
    first = _book(container, GuestDetails(name="Ana", phone="+34600111222"))
    assert first.status is Status.CONFIRMED
    with container.engine.begin() as conn:
        conn.execute(update(guests).values(no_show_count=2))
    again = _book(
        container, GuestDetails(name="Ana", phone="+34600111222"), start=DINNER + timedelta(1)
    )
    assert again.status is Status.PENDING
    assert again.guest is not None
    assert first.guest is not None
    assert again.guest.id == first.guest.id
    assert again.guest.no_show_count == 2


@ON_POSTGRES
def test_racing_first_bookings_of_one_new_guest_share_one_guest(
    container: Container, demo: str
) -> None:
    """Guests book from two devices at once: both bookings stand, on one guest row."""
    racers = 6
    rounds = 4
    failures: list[BaseException] = []
    for n in range(rounds):
        phone = f"+3460077{n:04d}"
        barrier = threading.Barrier(racers)

        def book(
            i: int, phone: str = phone, barrier: threading.Barrier = barrier, day: int = n + 1
        ) -> None:
            try:
                barrier.wait(timeout=30)
                _book(
                    container,
                    GuestDetails(name="Ana", phone=phone),
                    start=DINNER + timedelta(days=day, minutes=30 * (i % 3)),
                    party=2,
                )
            except errors.SlotTaken:
                pass
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=book, args=(i,)) for i in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    with container.engine.connect() as conn:
        per_phone = conn.execute(
            select(guests.c.phone, func.count()).group_by(guests.c.phone)
        ).all()
        unowned = conn.execute(
            select(func.count()).where(reservations.c.guest_id.is_(None))
        ).scalar_one()
    assert all(count == 1 for _, count in per_phone)
    assert unowned == 0
