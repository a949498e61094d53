"""Table claims and slot covers: what keeps two bookings off one table at one time,
and a slot's pacing.

Each reservation claims every 5-minute cell its stay touches on each of its
tables; the unique index on ``(table_id, cell)`` refuses the second of two
overlapping claims (see the README's *The invariant*). Covers count the guests
starting in a slot, against the restaurant's pacing cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from saveit.store.database import ignoring_conflicts, one_of
from saveit.store.schema import (
    reservation_tables,
    reservations,
    slot_covers,
    table_claims,
)
from saveit.store.tenancy import current_tenant


@cache
def _busy(dialect: str, excluding: bool) -> Any:
    """The tables as one array on PostgreSQL (``store.database.one_of``)."""
    tables = one_of(dialect, table_claims.c.table_id, "tables")
    query = (
        select(table_claims.c.table_id)
        .distinct()
        .where(
            tables,
            table_claims.c.cell >= bindparam("first"),
            table_claims.c.cell < bindparam("stop"),
        )
    )
    if excluding:
        query = query.where(table_claims.c.reservation_id != bindparam("exclude_id"))
    return query


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
    if exclude_id is not None:
        params["exclude_id"] = exclude_id
    query = _busy(conn.dialect.name, exclude_id is not None)
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


def made_and_claimed(guest_id: str = ":guest_id") -> str:
    """A new booking and its claims (PostgreSQL), the two ``WITH``s (without the
    keyword) that begin the statements writing them: the claims read the new row's
    id from the first insert's RETURNING. No ``made`` row: the public code was taken
    (nothing was written; draw another). ``guest_id`` is the SQL of the guest's id:
    a parameter, or a subquery of an earlier ``WITH`` (``store.booked_at_once``)."""
    return (
        "made AS ("  # noqa: S608 - constants only
        " INSERT INTO reservations (code, restaurant_id, guest_id, party_size, start_at,"
        " end_at, buffer_minutes, status, source, notes, area_preference, created_by,"
        " created_at, updated_at, version)"
        f" VALUES (:code, :restaurant_id, {guest_id}, :party_size, :start_at,"
        " :end_at, :buffer_minutes, :status, :source, :notes, :area_preference, :created_by,"
        " :created_at, :updated_at, :version)"
        " ON CONFLICT DO NOTHING RETURNING id"
        "), claimed AS ("
        " INSERT INTO table_claims (table_id, cell, reservation_id)"
        " SELECT t, c, made.id FROM made,"
        " unnest(CAST(:tables AS integer[])) AS t,"
        " generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS c"
        " ON CONFLICT DO NOTHING RETURNING 1"
        ")"
    )


# ... and its seating, in the same statement.
_INSERT_CLAIM_AND_SEAT = text(
    "WITH " + made_and_claimed() + ", seated AS ("  # noqa: S608 - constants only
    " INSERT INTO reservation_tables (reservation_id, table_id)"
    " SELECT made.id, t FROM made, unnest(CAST(:tables AS integer[])) AS t"
    " WHERE (SELECT count(*) FROM claimed) = :wanted"
    ")"
    " SELECT made.id, (SELECT count(*) FROM claimed) FROM made"
)


def insert_claiming(
    conn: Connection, values: dict[str, Any], table_ids: Iterable[int], cells: range
) -> tuple[int | None, bool]:
    """Insert a reservation and claim these tables for it: (its id, whether every
    cell was free). None for the id when its public code is taken (nothing was
    written). A claim that lost a cell leaves nothing of itself behind, as
    :func:`claim`'s does, and the reservation stays for the next candidate.

    On PostgreSQL one round trip where a create took two, for unscoped work (a
    guest's booking): under a restaurant's row-level security the seating's
    policy looks the reservation up, and a row inserted by the same statement is
    not yet visible to it, so a staff request takes the two statements."""
    if conn.dialect.name != "postgresql" or current_tenant() is not None:
        made = ignoring_conflicts(conn.dialect.name, reservations, reservations.c.id)
        found = conn.execute(made, values).scalar()
        if found is None:
            return None, False
        return int(found), claim(conn, int(found), table_ids, cells)
    spec = ClaimSpec.of(table_ids, cells)
    row = conn.execute(_INSERT_CLAIM_AND_SEAT, {**values, **spec._asdict()}).first()
    if row is None:
        return None, False
    reservation_id, inserted = int(row[0]), int(row[1])
    if inserted != spec.wanted:
        forget_claims(conn, reservation_id, spec.tables)
        return reservation_id, False
    return reservation_id, True


class ClaimSpec(NamedTuple):
    """What the server needs to generate a claim's rows (its fields are the
    statements' parameters): the tables, the cells' bounds, and how many rows a
    claim that lost nothing inserts."""

    tables: list[int]
    first: int
    last: int
    wanted: int

    @classmethod
    def of(cls, table_ids: Iterable[int], cells: range) -> ClaimSpec:
        tables = list(table_ids)
        return cls(tables, cells.start, cells.stop - 1, len(tables) * len(cells))


def claim(conn: Connection, reservation_id: int, table_ids: Iterable[int], cells: range) -> bool:
    """Claim every cell of these tables for the reservation; False when another
    booking holds one of them (then nothing of this attempt is left behind).

    The unique index on (table, cell) decides: ``ON CONFLICT DO NOTHING`` makes a
    racing insert wait for the holder's transaction and then skip the held cells,
    so a short count means the table was lost, without aborting the transaction.
    """
    spec = ClaimSpec.of(table_ids, cells)
    # Counted from RETURNING: an INSERT's rowcount is not reported by every driver.
    if conn.dialect.name == "postgresql":
        # The rows are generated by the server: one small statement, however long
        # the stay, instead of a VALUES list SQLAlchemy must build every time; and
        # the tables are recorded in the same round trip when the claim holds.
        inserted = conn.execute(
            _CLAIM_AND_SEAT, {**spec._asdict(), "reservation": reservation_id}
        ).scalar_one()
        if inserted == spec.wanted:
            return True
    else:
        rows = [
            {"table_id": t, "cell": cell, "reservation_id": reservation_id}
            for t in spec.tables
            for cell in cells
        ]
        statement = ignoring_conflicts(conn.dialect.name, table_claims, table_claims.c.cell)
        inserted = len(conn.execute(statement.values(rows)).all())
    if inserted != spec.wanted:
        forget_claims(conn, reservation_id, spec.tables)
        return False
    conn.execute(
        insert(reservation_tables),
        [{"reservation_id": reservation_id, "table_id": t} for t in spec.tables],
    )
    return True


def forget_claims(conn: Connection, reservation_id: int, table_ids: list[int]) -> None:
    conn.execute(
        delete(table_claims).where(
            table_claims.c.reservation_id == reservation_id,
            table_claims.c.table_id.in_(table_ids),
        )
    )


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
    params = covers_params(restaurant_id, slot_start, covers, cap)
    statement = covers_upsert(conn.dialect.name, "cap" in params)
    return conn.execute(statement, params).first() is not None  # no row: the cap refused


def covers_params(
    restaurant_id: int, slot_start: datetime, covers: int, cap: int | None
) -> dict[str, Any]:
    """The upsert's parameters; ``cap`` only when it binds (covers given back are
    never refused)."""
    params: dict[str, Any] = {
        "restaurant_id": restaurant_id,
        "slot_start": int(slot_start.timestamp()),
        "covers": covers,
    }
    if cap is not None and covers > 0:
        params["cap"] = cap
    return params


@cache
def covers_upsert(dialect: str, capped: bool) -> Any:
    base = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = base(slot_covers)
    total = slot_covers.c.covers + statement.excluded.covers
    return statement.on_conflict_do_update(
        index_elements=[slot_covers.c.restaurant_id, slot_covers.c.slot_start],
        set_={"covers": total},
        where=(total <= bindparam("cap")) if capped else None,
    ).returning(slot_covers.c.covers)
