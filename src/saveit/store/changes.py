"""A reservation change's audit row and its event: one shape for bookings and the
waitlist's held seats (the live feed and the caches read both), written in the
change's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, select

from saveit.domain.commands import Actor
from saveit.domain.views import ReservationView
from saveit.store.carrier import with_carrier
from saveit.store.claims import add_covers, covers_params, covers_upsert
from saveit.store.outbox import INSERT_OUTBOX, mark_written
from saveit.store.schema import (
    outbox,
    reservation_log,
)

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


_EVENTED = (
    insert(outbox)
    .values(
        {
            name: bindparam(f"ev_{name}", type_=outbox.c[name].type)
            for name in ("event_id", "restaurant_id", "type", "payload", "created_at")
        }
    )
    .cte("evented")
)


@cache
def _record_and_count(capped: bool) -> Any:
    """PostgreSQL: a new booking's audit row and event ride on its covers upsert."""
    return covers_upsert("postgresql", capped).add_cte(_LOGGED).add_cte(_EVENTED)


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
    log_row, event_row = _rows(
        reservation_id,
        restaurant_id,
        at,
        actor,
        channel,
        action,
        before,
        after,
        event_type,
        payload,
    )
    if conn.dialect.name == "postgresql":
        conn.execute(_RECORD_BOTH, {**{f"log_{k}": v for k, v in log_row.items()}, **event_row})
    else:
        conn.execute(_INSERT_LOG, log_row)
        conn.execute(INSERT_OUTBOX, event_row)
    mark_written(conn)
    return str(event_row["event_id"])


def _rows(
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
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An audit row and its event's row."""
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
        "event_id": str(uuid.uuid4()),
        "restaurant_id": restaurant_id,
        "type": event_type,
        "payload": with_carrier(payload),
        "created_at": at,
    }
    return log_row, event_row


def _change(
    view: ReservationView,
    actor: Actor,
    action: str,
    before: ReservationView | None,
    now: datetime,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`record`'s arguments for a change of ``view``."""
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
    return {
        "reservation_id": view.id,
        "restaurant_id": view.restaurant_id,
        "at": now,
        "actor": actor.label,
        "channel": actor.channel,
        "action": action,
        "before": earlier,
        "after": after,
        "event_type": f"reservation.{action}",
        "payload": payload,
    }


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
    record(conn, **_change(view, actor, action, before, now, reason, extra))


def created_rows(
    view: ReservationView, actor: Actor, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new booking's audit row and its event's row."""
    return _rows(**_change(view, actor, "created", None, now))


def record_created(
    conn: Connection, view: ReservationView, actor: Actor, now: datetime, cap: int | None
) -> bool:
    """A new booking's audit row and event, and its covers counted in its slot
    (False: the pacing cap refuses them, see :func:`~saveit.store.claims.add_covers`).

    The booking's last write, as the covers must be. On PostgreSQL the three are
    one statement, the two inserts riding on the upsert as data-modifying
    ``WITH``s: a create's transaction is mostly round trips, and on a busy
    process each one also waits for the interpreter."""
    if conn.dialect.name != "postgresql":
        record_change(conn, view, actor, "created", None, now)
        return add_covers(conn, view.restaurant_id, view.start, view.party_size, cap)
    if cap is not None and view.party_size > cap:
        return False
    log_row, event_row = created_rows(view, actor, now)
    params: dict[str, Any] = {
        **{f"log_{k}": v for k, v in log_row.items()},
        **{f"ev_{k}": v for k, v in event_row.items()},
        **covers_params(view.restaurant_id, view.start, view.party_size, cap),
    }
    counted = conn.execute(_record_and_count("cap" in params), params).first() is not None
    mark_written(conn)
    return counted


def arrival_times(conn: Connection, reservation_ids: Sequence[int]) -> dict[int, datetime]:
    """When each reservation's guests arrived: its last check-in in the audit log,
    or, for one that never went through a check-in (a walk-in is seated as it is
    made), when it was made."""
    if not reservation_ids:
        return {}
    log = reservation_log.c
    checked_in = func.max(case((log.action == "checked_in", log.at)))
    rows = conn.execute(
        select(log.reservation_id, checked_in, func.min(log.at))
        .where(log.reservation_id.in_(list(reservation_ids)))
        .group_by(log.reservation_id)
    )
    return {rid: seated or made for rid, seated, made in rows}
