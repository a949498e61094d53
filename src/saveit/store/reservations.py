"""Reservation rows: reads for the engine and the small writes it composes into
one transaction (claims, covers, audit, outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from saveit.domain.commands import Actor
from saveit.domain.model import ACTIVE_STATUSES, OCCUPYING_STATUSES, Booked, Status
from saveit.domain.views import GuestView, ReservationView
from saveit.observe.context import with_carrier
from saveit.store.database import ignoring_conflicts
from saveit.store.outbox import INSERT_OUTBOX
from saveit.store.schema import (
    dining_tables,
    guests,
    outbox,
    reservation_log,
    reservation_tables,
    reservations,
    restaurants,
    slot_covers,
    table_claims,
)

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_OCCUPYING = sorted(s.value for s in OCCUPYING_STATUSES)  # held seats are taken too
MAX_BUFFER_MINUTES = 240  # the largest buffer the rules accept (restaurant_setup.RulesSpec)


# The write path's other hot statements, built once (see store.database.ignoring_conflicts).
_INSERT_LOG = insert(reservation_log)
_LOGGED = (
    insert(reservation_log)
    .values(
        {
            c.name: bindparam(f"log_{c.name}", type_=c.type)
            for c in reservation_log.c
            if c.name != "id"
        }
    )
    .cte("logged")
)
_RECORD_BOTH = (
    insert(outbox)
    .values(
        {
            name: bindparam(name, type_=outbox.c[name].type)
            for name in ("event_id", "restaurant_id", "type", "payload", "created_at")
        }
    )
    .add_cte(_LOGGED)
)


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


_BUSY = (
    select(table_claims.c.table_id)
    .distinct()
    .where(
        table_claims.c.table_id.in_(bindparam("tables", expanding=True)),
        table_claims.c.cell >= bindparam("first"),
        table_claims.c.cell < bindparam("stop"),
    )
)
_BUSY_EXCEPT = _BUSY.where(table_claims.c.reservation_id != bindparam("exclude_id"))


def busy_tables(
    conn: Connection, table_ids: Iterable[int], cells: range, *, exclude_id: int | None = None
) -> set[int]:
    """Which of these tables another active booking holds in any of these cells.

    Read from the claims themselves, the very rows the unique index guards, through
    that index: exact, buffers included, and a handful of integers however busy the
    day, where reading the bookings around a stay parses dozens of rows.
    """
    params: dict[str, Any] = {"tables": list(table_ids), "first": cells.start, "stop": cells.stop}
    if not params["tables"]:
        return set()
    query = _BUSY
    if exclude_id is not None:
        query = _BUSY_EXCEPT
        params["exclude_id"] = exclude_id
    return {int(table_id) for table_id in conn.execute(query, params).scalars()}


# Claims the stay's cells and, only when every one was free, seats the booking at
# the tables, in one statement: the second insert sees the first's RETURNING rows.
_CLAIM_AND_SEAT = text(
    "WITH claimed AS ("
    " INSERT INTO table_claims (table_id, cell, reservation_id)"
    " SELECT t, c, :reservation"
    " FROM unnest(CAST(:tables AS integer[])) AS t,"
    " generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS c"
    " ON CONFLICT DO NOTHING RETURNING 1"
    "), seated AS ("
    " INSERT INTO reservation_tables (reservation_id, table_id)"
    " SELECT :reservation, t FROM unnest(CAST(:tables AS integer[])) AS t"
    " WHERE (SELECT count(*) FROM claimed) = :wanted"
    ")"
    " SELECT count(*) FROM claimed"
)


def claim(conn: Connection, reservation_id: int, table_ids: Iterable[int], cells: range) -> bool:
    """Claim every cell of these tables for the reservation; False when another
    booking holds one of them (then nothing of this attempt is left behind).

    The unique index on (table, cell) decides: ``ON CONFLICT DO NOTHING`` makes a
    racing insert wait for the holder's transaction and then skip the held cells,
    so a short count means the table was lost, without aborting the transaction.
    """
    table_ids = list(table_ids)
    wanted = len(table_ids) * len(cells)
    # Counted from RETURNING: an INSERT's rowcount is not reported by every driver.
    if conn.dialect.name == "postgresql":
        # The rows are generated by the server: one small statement, however long
        # the stay, instead of a VALUES list SQLAlchemy must build every time; and
        # the tables are recorded in the same round trip when the claim holds.
        inserted = conn.execute(
            _CLAIM_AND_SEAT,
            {
                "tables": table_ids,
                "first": cells.start,
                "last": cells.stop - 1,
                "reservation": reservation_id,
                "wanted": wanted,
            },
        ).scalar_one()
        if inserted == wanted:
            return True
    else:
        rows = [
            {"table_id": t, "cell": cell, "reservation_id": reservation_id}
            for t in table_ids
            for cell in cells
        ]
        statement = ignoring_conflicts(conn.dialect.name, table_claims, table_claims.c.cell)
        inserted = len(conn.execute(statement.values(rows)).all())
    if inserted != wanted:
        conn.execute(
            delete(table_claims).where(
                table_claims.c.reservation_id == reservation_id,
                table_claims.c.table_id.in_(table_ids),
            )
        )
        return False
    conn.execute(
        insert(reservation_tables),
        [{"reservation_id": reservation_id, "table_id": t} for t in table_ids],
    )
    return True


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


def release(conn: Connection, reservation_id: int, *, forget_tables: bool) -> None:
    conn.execute(delete(table_claims).where(table_claims.c.reservation_id == reservation_id))
    if forget_tables:
        conn.execute(
            delete(reservation_tables).where(reservation_tables.c.reservation_id == reservation_id)
        )


def add_covers(
    conn: Connection, restaurant_id: int, slot_start: datetime, covers: int, cap: int | None
) -> bool:
    """Count covers starting in a slot; refuse (False) when the cap would be passed.

    One upsert whose update is conditional on the cap. It takes the slot's row
    lock, so racing bookings for one slot queue on it and the cap holds across
    processes; callers run it as their transaction's last write, so the lock is
    held only until the commit.
    """
    if cap is not None and covers > cap:
        return False
    capped = cap is not None and covers > 0
    statement = _covers_upsert(conn.dialect.name, capped)
    params = {
        "restaurant_id": restaurant_id,
        "slot_start": int(slot_start.timestamp()),
        "covers": covers,
    }
    if cap is not None and capped:
        params["cap"] = cap
    return conn.execute(statement, params).first() is not None  # no row: the cap refused


@cache
def _covers_upsert(dialect: str, capped: bool) -> Any:
    base = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = base(slot_covers)
    total = slot_covers.c.covers + statement.excluded.covers
    return statement.on_conflict_do_update(
        index_elements=[slot_covers.c.restaurant_id, slot_covers.c.slot_start],
        set_={"covers": total},
        where=(total <= bindparam("cap")) if capped else None,
    ).returning(slot_covers.c.covers)


def record(
    conn: Connection,
    *,
    reservation_id: int,
    restaurant_id: int,
    at: datetime,
    actor: str,
    channel: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    event_type: str,
    payload: dict[str, Any],
) -> str:
    """The audit row and the outbox event of one change; returns the event id.

    On PostgreSQL both inserts are one statement (the audit row in a data-modifying
    ``WITH``): one round trip less on every change, and the booking path's
    transactions are mostly round trips."""
    event_id = str(uuid.uuid4())
    log_row = {
        "reservation_id": reservation_id,
        "restaurant_id": restaurant_id,
        "at": at,
        "actor": actor,
        "channel": channel,
        "action": action,
        "before": before,
        "after": after,
    }
    event_row = {
        "event_id": event_id,
        "restaurant_id": restaurant_id,
        "type": event_type,
        "payload": with_carrier(payload),
        "created_at": at,
    }
    if conn.dialect.name == "postgresql":
        conn.execute(_RECORD_BOTH, {**{f"log_{k}": v for k, v in log_row.items()}, **event_row})
    else:
        conn.execute(_INSERT_LOG, log_row)
        conn.execute(INSERT_OUTBOX, event_row)
    return event_id


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


def record_change(
    conn: Connection,
    view: ReservationView,
    actor: Actor,
    action: str,
    before: ReservationView | None,
    now: datetime,
    *,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    """A change's audit row and its ``reservation.<action>`` event (one shape for
    bookings and the waitlist's held seats: the live feed and caches read both)."""
    after = view.snapshot()
    if reason:
        after["reason"] = reason
    earlier = before.snapshot() if before is not None else None
    payload: dict[str, Any] = {
        "reservation": after,
        "actor": actor.label,
        "channel": actor.channel,
        **(extra or {}),
    }
    if earlier is not None:
        payload["before"] = earlier
    record(
        conn,
        reservation_id=view.id,
        restaurant_id=view.restaurant_id,
        at=now,
        actor=actor.label,
        channel=actor.channel,
        action=action,
        before=earlier,
        after=after,
        event_type=f"reservation.{action}",
        payload=payload,
    )


class ReservationRepository:
    """Reservations, their table claims and slot covers, and their audit.

    Bound to one unit of work's connection; see :mod:`saveit.store.unit_of_work`.
    """

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def booked_between(
        self,
        restaurant_id: int,
        lo: datetime,
        hi: datetime,
        *,
        exclude_id: int | None = None,
    ) -> list[Booked]:
        return booked_between(self.connection, restaurant_id, lo, hi, exclude_id=exclude_id)

    def view_by_code(self, code: str) -> ReservationView | None:
        return view_by_code(self.connection, code)

    def view_by_id(self, reservation_id: int) -> ReservationView:
        return view_by_id(self.connection, reservation_id)

    def views_between(
        self,
        restaurant_id: int,
        lo: datetime,
        hi: datetime,
    ) -> list[ReservationView]:
        return views_between(self.connection, restaurant_id, lo, hi)

    def starting_between(
        self,
        statuses: Sequence[str],
        after: datetime,
        until: datetime,
    ) -> list[ReservationView]:
        return starting_between(self.connection, statuses, after, until)

    def upcoming_of_guest(
        self,
        restaurant_id: int,
        guest_id: int,
        after: datetime,
    ) -> list[ReservationView]:
        return upcoming_of_guest(self.connection, restaurant_id, guest_id, after)

    def insert_reservation(self, values: dict[str, Any]) -> int | None:
        return insert_reservation(self.connection, values)

    def busy_tables(
        self,
        table_ids: Iterable[int],
        cells: range,
        *,
        exclude_id: int | None = None,
    ) -> set[int]:
        return busy_tables(self.connection, table_ids, cells, exclude_id=exclude_id)

    def claim(self, reservation_id: int, table_ids: Iterable[int], cells: range) -> bool:
        return claim(self.connection, reservation_id, table_ids, cells)

    def reschedule(
        self,
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
        return reschedule(
            self.connection,
            reservation_id,
            version,
            start=start,
            end=end,
            party_size=party_size,
            buffer_minutes=buffer_minutes,
            notes=notes,
            now=now,
        )

    def change_status(
        self,
        reservation_id: int,
        version: int,
        current: Status,
        target: Status,
        now: datetime,
    ) -> bool:
        return change_status(self.connection, reservation_id, version, current, target, now)

    def release(self, reservation_id: int, *, forget_tables: bool) -> None:
        release(self.connection, reservation_id, forget_tables=forget_tables)

    def add_covers(
        self,
        restaurant_id: int,
        slot_start: datetime,
        covers: int,
        cap: int | None,
    ) -> bool:
        return add_covers(self.connection, restaurant_id, slot_start, covers, cap)

    def record(
        self,
        *,
        reservation_id: int,
        restaurant_id: int,
        at: datetime,
        actor: str,
        channel: str,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        event_type: str,
        payload: dict[str, Any],
    ) -> str:
        return record(
            self.connection,
            reservation_id=reservation_id,
            restaurant_id=restaurant_id,
            at=at,
            actor=actor,
            channel=channel,
            action=action,
            before=before,
            after=after,
            event_type=event_type,
            payload=payload,
        )

    def bump_guest_counter(self, guest_id: int | None, column: str, at: datetime) -> None:
        bump_guest_counter(self.connection, guest_id, column, at)

    def count_overlaps(self) -> int:
        return count_overlaps(self.connection)

    def record_change(
        self,
        view: ReservationView,
        actor: Actor,
        action: str,
        before: ReservationView | None,
        now: datetime,
        *,
        reason: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        record_change(
            self.connection,
            view,
            actor,
            action,
            before,
            now,
            reason=reason,
            extra=extra,
        )
