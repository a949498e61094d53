"""A guest's new booking written in one statement: the reservation, its claims and
tables, its audit row, its event and its slot's covers.

Why: a booking's transaction is mostly round trips, and on a busy API process each
one also waits for the interpreter (``bench/README.md``: ~7 ms a statement at
saturation, against ~0.2 ms of work). The reservation with its claims and the
record of it with its covers were two statements; here they are one, the later
inserts reading the new row's id from the first one's ``RETURNING``.

The record and the covers are written only when every cell was claimed (``whole``).
When a racing booking held one, the reservation and what it claimed stay as
:func:`~saveit.store.claims.insert_claiming` leaves them, and the caller seats it at
its next candidate and records it then. The covers upsert is still the statement's
last write and the transaction's last statement, so the slot's row lock is held
only until the commit; it runs after the claims, which it reads.

PostgreSQL and unscoped work only (a guest's booking): under a restaurant's
row-level security the seating's policy cannot see a row inserted by the same
statement (see ``insert_claiming``), and SQLite takes the statements one by one.
:mod:`saveit.store.booked_at_once` puts the guest's row in front of the same
``WITH``s (:func:`booking_ctes`) and runs them as their own transaction.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, TextClause, bindparam, text

from saveit.domain.commands import Actor
from saveit.domain.views import ReservationView
from saveit.store.changes import created_rows, record_created
from saveit.store.claims import (
    ClaimSpec,
    covers_params,
    forget_claims,
    insert_claiming,
    made_and_claimed,
)
from saveit.store.outbox import mark_written
from saveit.store.schema import outbox, reservation_log
from saveit.store.tenancy import current_tenant


class NewBooking(NamedTuple):
    """What :func:`insert_booked` did: the new row's id (None: its public code was
    taken and nothing was written), whether every cell was claimed, and whether the
    booking was recorded and its covers counted (False with every cell claimed: the
    pacing cap refused them, and the caller rolls back)."""

    reservation_id: int | None
    claimed: bool
    counted: bool


def booking_ctes(
    guest_id: str = ":guest_id", after: str = ":log_after", payload: str = ":ev_payload"
) -> str:
    """The ``WITH``s (without the keyword) that write a booking whole: the reservation
    and its claims, then, when every cell was claimed, its seating, audit row, event
    and covers. The arguments are the SQL of the guest's id, the audit row's
    ``after`` and the event's payload: parameters here, expressions over an earlier
    ``WITH`` in ``store.booked_at_once``."""
    return (
        made_and_claimed(guest_id) + ", whole AS ("  # noqa: S608 - constants only
        " SELECT made.id FROM made WHERE (SELECT count(*) FROM claimed) = :wanted"
        "), seated AS ("
        " INSERT INTO reservation_tables (reservation_id, table_id)"
        " SELECT whole.id, t FROM whole, unnest(CAST(:tables AS integer[])) AS t"
        "), logged AS ("
        " INSERT INTO reservation_log"
        " (reservation_id, restaurant_id, at, actor, channel, action, before, after)"
        " SELECT whole.id, :restaurant_id, :log_at, :log_actor, :log_channel, :log_action,"
        f" :log_before, {after} FROM whole"
        "), evented AS ("
        " INSERT INTO outbox (event_id, restaurant_id, type, payload, created_at)"
        f" SELECT :ev_event_id, :restaurant_id, :ev_type, {payload}, :ev_created_at"
        " FROM whole"
        "), counted AS ("
        " INSERT INTO slot_covers (restaurant_id, slot_start, covers)"
        " SELECT :restaurant_id, :slot_start, :covers FROM whole"
        " ON CONFLICT (restaurant_id, slot_start)"
        " DO UPDATE SET covers = slot_covers.covers + excluded.covers"
        " WHERE CAST(:cap AS integer) IS NULL"
        " OR slot_covers.covers + excluded.covers <= CAST(:cap AS integer)"
        " RETURNING covers"
        ")"
    )


def typed_documents(statement: TextClause) -> TextClause:
    """``statement`` with the audit row's and the event's documents typed as their
    columns are, so they are written as the other statements write them
    (``record_created``)."""
    return statement.bindparams(
        bindparam("log_before", type_=reservation_log.c.before.type),
        bindparam("log_after", type_=reservation_log.c.after.type),
        bindparam("ev_payload", type_=outbox.c.payload.type),
    )


@cache
def _statement() -> TextClause:
    """Built once; a cap that does not bind is NULL (``covers_params``)."""
    return typed_documents(
        text(
            "WITH "  # noqa: S608 - constants only
            + booking_ctes()
            + " SELECT made.id, (SELECT count(*) FROM claimed), (SELECT count(*) FROM counted)"
            " FROM made"
        )
    )


def booking_params(
    view: ReservationView,
    area: str | None,
    table_ids: list[int],
    cells: range,
    actor: Actor,
    cap: int | None,
) -> dict[str, Any]:
    """The parameters of :func:`booking_ctes` for the booking ``view`` describes."""
    log_row, event_row = created_rows(view, actor, view.created_at)
    return {
        **reservation_row(view, area, actor),
        **ClaimSpec.of(table_ids, cells)._asdict(),
        **{f"log_{k}": v for k, v in log_row.items() if k != "restaurant_id"},
        **{f"ev_{k}": v for k, v in event_row.items() if k != "restaurant_id"},
        "cap": None,
        **covers_params(view.restaurant_id, view.start, view.party_size, cap),
    }


def insert_booked(
    conn: Connection,
    view: ReservationView,
    area: str | None,
    table_ids: list[int],
    cells: range,
    actor: Actor,
    cap: int | None,
) -> NewBooking:
    """Insert the booking ``view`` describes (its id aside, which is the new row's)
    at these tables and record it; see the module docstring. Elsewhere than on
    unscoped PostgreSQL, the same in the statements it takes there."""
    scoped = current_tenant() is not None
    if conn.dialect.name != "postgresql" or scoped or refused_alone(view, cap):
        values = reservation_row(view, area, actor)
        made, claimed = insert_claiming(conn, values, table_ids, cells)
        if made is None or not claimed:
            return NewBooking(made, claimed=claimed, counted=False)
        recorded = record_created(conn, replace(view, id=made), actor, view.created_at, cap)
        return NewBooking(made, claimed=True, counted=recorded)
    params = booking_params(view, area, table_ids, cells, actor, cap)
    row = conn.execute(_statement(), params).first()
    if row is None:
        return NewBooking(None, claimed=False, counted=False)
    reservation_id, inserted, counted = int(row[0]), int(row[1]), int(row[2])
    if inserted != params["wanted"]:
        forget_claims(conn, reservation_id, params["tables"])
        return NewBooking(reservation_id, claimed=False, counted=False)
    mark_written(conn)
    return NewBooking(reservation_id, claimed=True, counted=counted > 0)


def refused_alone(view: ReservationView, cap: int | None) -> bool:
    """A party larger than the cap on its own: refused before any round trip."""
    return cap is not None and view.party_size > cap


def reservation_row(view: ReservationView, area: str | None, actor: Actor) -> dict[str, Any]:
    """The booking's row in ``reservations``."""
    return {
        "code": view.code,
        "restaurant_id": view.restaurant_id,
        "guest_id": view.guest.id if view.guest else None,
        "party_size": view.party_size,
        "start_at": view.start,
        "end_at": view.end,
        "buffer_minutes": view.buffer_minutes,
        "status": view.status.value,
        "source": view.source,
        "notes": view.notes,
        "area_preference": area,
        "created_by": actor.label,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "version": view.version,
    }
