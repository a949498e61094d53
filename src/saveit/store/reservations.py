"""Reservation rows: reads for the engine and the small writes it composes into
one transaction. The repository also carries the table claims and slot covers
(:mod:`saveit.store.claims`) and the change records (:mod:`saveit.store.changes`):
one booking's transaction reaches them all through ``uow.reservations``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, or_, select, update

from saveit.domain.model import ACTIVE_STATUSES, OCCUPYING_STATUSES, Booked, Status
from saveit.domain.views import GuestView, ReservationView
from saveit.store.booked import insert_booked
from saveit.store.booked_at_once import insert_booked_at_once
from saveit.store.changes import arrival_times

# Re-exported while callers outside the store still call the module's functions;
# the unit of work's repository is the way in (drop these once none do).
from saveit.store.changes import record as record
from saveit.store.changes import record_change as record_change
from saveit.store.changes import record_created as record_created
from saveit.store.claims import add_covers as add_covers
from saveit.store.claims import busy_tables as busy_tables
from saveit.store.claims import claim as claim
from saveit.store.claims import insert_claiming as insert_claiming
from saveit.store.claims import release as release
from saveit.store.database import ignoring_conflicts
from saveit.store.repository import Repository, bound
from saveit.store.schema import (
    dining_tables,
    guests,
    reservation_tables,
    reservations,
    restaurants,
)

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_OCCUPYING = sorted(s.value for s in OCCUPYING_STATUSES)  # held seats are taken too
MAX_BUFFER_MINUTES = 240  # the largest buffer the rules accept (admin.setup.RulesSpec)


_BOOKED = (
    select(
        reservations.c.id,
        reservations.c.start_at,
        reservations.c.end_at,
        reservations.c.buffer_minutes,
        reservations.c.party_size,
        reservation_tables.c.table_id,
    )
    .join(reservation_tables, reservation_tables.c.reservation_id == reservations.c.id)
    .where(
        reservations.c.restaurant_id == bindparam("restaurant_id"),
        # Spelled out rather than IN (…): an expanding list is re-rendered on
        # every execution, and this runs on every cache miss.
        or_(*(reservations.c.status == status for status in _OCCUPYING)),
        reservations.c.start_at >= bindparam("from_start"),
        reservations.c.start_at < bindparam("to_start"),
        reservations.c.end_at > bindparam("running_at"),
    )
)
_BOOKED_EXCEPT = _BOOKED.where(reservations.c.id != bindparam("exclude_id"))


def booked_between(
    conn: Connection,
    restaurant_id: int,
    lo: datetime,
    hi: datetime,
    *,
    exclude_id: int | None = None,
) -> list[Booked]:
    """Active bookings whose stay (buffer included) may touch ``[lo, hi)``.

    Starts are searched from a day before ``lo`` (the index's range, wide enough
    for any stay) but only rows still running at ``lo`` come back, so the engine
    never parses the whole previous evening.
    """
    params: dict[str, Any] = {
        "restaurant_id": restaurant_id,
        "from_start": lo - timedelta(days=1),
        "to_start": hi,
        "running_at": lo - timedelta(minutes=MAX_BUFFER_MINUTES),
    }
    query = _BOOKED
    if exclude_id is not None:
        query = _BOOKED_EXCEPT
        params["exclude_id"] = exclude_id
    # One row per (booking, table); most bookings hold one table. Rows are unpacked
    # as tuples: a cache miss parses the whole day's bookings.
    stays: dict[int, tuple[datetime, datetime, int, int]] = {}
    tables: dict[int, list[int]] = {}
    for rid, start, end, buffer, party, table_id in conn.execute(query, params).all():
        if rid in stays:
            tables[rid].append(table_id)
        else:
            stays[rid] = (start, end, buffer, party)
            tables[rid] = [table_id]
    return [
        Booked(tuple(sorted(tables[rid])), start, end, buffer, party)
        for rid, (start, end, buffer, party) in stays.items()
    ]


def _view_query() -> Select[Any]:
    return (
        select(
            reservations,
            restaurants.c.slug.label("restaurant_slug"),
            guests.c.name.label("g_name"),
            guests.c.phone.label("g_phone"),
            guests.c.email.label("g_email"),
            guests.c.language.label("g_language"),
            guests.c.visit_count.label("g_visits"),
            guests.c.no_show_count.label("g_no_shows"),
        )
        .join(restaurants, restaurants.c.id == reservations.c.restaurant_id)
        .outerjoin(guests, guests.c.id == reservations.c.guest_id)
    )


def _table_codes(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    codes: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = conn.execute(
            select(reservation_tables.c.reservation_id, dining_tables.c.code)
            .join(dining_tables, dining_tables.c.id == reservation_tables.c.table_id)
            .where(reservation_tables.c.reservation_id.in_(ids))
        )
        for reservation_id, code in rows:
            codes[reservation_id].append(code)
    # Sorted here, not by the database's collation, so a view built in Python
    # (see BookingService._write_new) lists them exactly as a read does.
    return {k: tuple(sorted(v)) for k, v in codes.items()}


def _views(conn: Connection, query: Select[Any]) -> list[ReservationView]:
    rows = conn.execute(query).all()
    codes = _table_codes(conn, [r.id for r in rows])
    return [
        ReservationView(
            id=r.id,
            code=r.code,
            restaurant_id=r.restaurant_id,
            restaurant=r.restaurant_slug,
            guest=None
            if r.guest_id is None
            else GuestView(
                r.guest_id, r.g_name, r.g_phone, r.g_email, r.g_language, r.g_visits, r.g_no_shows
            ),
            party_size=r.party_size,
            start=r.start_at,
            end=r.end_at,
            buffer_minutes=r.buffer_minutes,
            tables=codes[r.id],
            status=Status(r.status),
            source=r.source,
            notes=r.notes,
            created_at=r.created_at,
            updated_at=r.updated_at,
            version=r.version,
        )
        for r in rows
    ]


def view_by_code(conn: Connection, code: str) -> ReservationView | None:
    found = _views(conn, _view_query().where(reservations.c.code == code))
    return found[0] if found else None


def view_by_id(conn: Connection, reservation_id: int) -> ReservationView:
    return _views(conn, _view_query().where(reservations.c.id == reservation_id))[0]


def views_between(
    conn: Connection, restaurant_id: int, lo: datetime, hi: datetime
) -> list[ReservationView]:
    return _views(
        conn,
        _view_query()
        .where(
            reservations.c.restaurant_id == restaurant_id,
            reservations.c.start_at >= lo,
            reservations.c.start_at < hi,
        )
        .order_by(reservations.c.start_at, reservations.c.id),
    )


def starting_between(
    conn: Connection, statuses: Sequence[str], after: datetime, until: datetime
) -> list[ReservationView]:
    """Reservations of every restaurant in ``statuses`` starting in ``[after, until]``:
    what the scheduler looks at (reminders due, no-shows to mark)."""
    return _views(
        conn,
        _view_query()
        .where(
            reservations.c.status.in_(list(statuses)),
            reservations.c.start_at >= after,
            reservations.c.start_at <= until,
        )
        .order_by(reservations.c.start_at, reservations.c.id),
    )


def upcoming_of_guest(
    conn: Connection, restaurant_id: int, guest_id: int, after: datetime
) -> list[ReservationView]:
    """A guest's active reservations starting after ``after``, soonest first."""
    return _views(
        conn,
        _view_query()
        .where(
            reservations.c.restaurant_id == restaurant_id,
            reservations.c.guest_id == guest_id,
            reservations.c.start_at >= after,
            reservations.c.status.in_(_ACTIVE),
        )
        .order_by(reservations.c.start_at, reservations.c.id),
    )


def insert_reservation(conn: Connection, values: dict[str, Any]) -> int | None:
    """Insert a reservation; None when its public code is already taken (then draw
    another). ``ON CONFLICT DO NOTHING`` rather than a savepoint: one round trip."""
    statement = ignoring_conflicts(conn.dialect.name, reservations, reservations.c.id)
    found = conn.execute(statement, values).scalar()
    return None if found is None else int(found)


def reschedule(
    conn: Connection,
    reservation_id: int,
    version: int,
    *,
    start: datetime,
    end: datetime,
    party_size: int,
    buffer_minutes: int,
    notes: str,
    now: datetime,
) -> bool:
    """Move or resize the reservation if it is still at ``version`` (optimistic
    locking); False when another change came first."""
    changed = conn.execute(
        update(reservations)
        .where(reservations.c.id == reservation_id, reservations.c.version == version)
        .values(
            start_at=start,
            end_at=end,
            party_size=party_size,
            buffer_minutes=buffer_minutes,
            notes=notes,
            updated_at=now,
            version=version + 1,
        )
    ).rowcount
    return bool(changed)


def change_status(
    conn: Connection,
    reservation_id: int,
    version: int,
    current: Status,
    target: Status,
    now: datetime,
) -> bool:
    """Set the status if the row is still at ``version`` and ``current``; False when
    another change came first."""
    changed = conn.execute(
        update(reservations)
        .where(
            reservations.c.id == reservation_id,
            reservations.c.version == version,
            reservations.c.status == current.value,
        )
        .values(status=target.value, updated_at=now, version=version + 1)
    ).rowcount
    return bool(changed)


def bump_guest_counter(conn: Connection, guest_id: int | None, column: str, at: datetime) -> None:
    if guest_id is None:
        return
    conn.execute(
        update(guests)
        .where(guests.c.id == guest_id)
        .values({column: guests.c[column] + 1, "updated_at": at})
    )


def count_overlaps(conn: Connection) -> int:
    """Audit query: pairs of active reservations (or seats held for the waitlist)
    sharing a table at overlapping times."""
    a, b = reservations.alias("a"), reservations.alias("b")
    ta, tb = reservation_tables.alias("ta"), reservation_tables.alias("tb")
    candidates = conn.execute(
        select(
            a.c.start_at,
            a.c.end_at,
            a.c.buffer_minutes,
            b.c.start_at,
            b.c.end_at,
            b.c.buffer_minutes,
        )
        .select_from(a)
        .join(ta, ta.c.reservation_id == a.c.id)
        .join(tb, tb.c.table_id == ta.c.table_id)
        .join(b, b.c.id == tb.c.reservation_id)
        .where(a.c.id < b.c.id, a.c.status.in_(_OCCUPYING), b.c.status.in_(_OCCUPYING))
    ).all()
    overlapping = 0
    for a_start, a_end, a_buf, b_start, b_end, b_buf in candidates:
        a_stop = a_end + timedelta(minutes=a_buf)
        b_stop = b_end + timedelta(minutes=b_buf)
        if a_start < b_stop and b_start < a_stop:
            overlapping += 1
    return overlapping


class ReservationRepository(Repository):
    """Reservations, their table claims and slot covers, and their audit."""

    booked_between = bound(booked_between)
    view_by_code = bound(view_by_code)
    view_by_id = bound(view_by_id)
    views_between = bound(views_between)
    starting_between = bound(starting_between)
    upcoming_of_guest = bound(upcoming_of_guest)
    insert_reservation = bound(insert_reservation)
    busy_tables = bound(busy_tables)
    claim = bound(claim)
    insert_claiming = bound(insert_claiming)
    insert_booked = bound(insert_booked)
    insert_booked_at_once = bound(insert_booked_at_once)
    reschedule = bound(reschedule)
    change_status = bound(change_status)
    release = bound(release)
    add_covers = bound(add_covers)
    record = bound(record)
    bump_guest_counter = bound(bump_guest_counter)
    count_overlaps = bound(count_overlaps)
    record_change = bound(record_change)
    record_created = bound(record_created)
    arrival_times = bound(arrival_times)
