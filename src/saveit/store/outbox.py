"""The outbox: events written in the transaction of the change they describe, for
the relay to publish (see :mod:`saveit.events.relay`), and read back by id for
the live feed (:mod:`saveit.realtime`) and by the in-process bus's replay."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from saveit.domain.events import Event
from saveit.store.carrier import with_carrier
from saveit.store.database import one_of
from saveit.store.repository import Repository, bound
from saveit.store.schema import outbox, processed_events

# Built once: the booking path's hot insert (see store.database.ignoring_conflicts).
INSERT_OUTBOX = insert(outbox)
_BACKLOG = select(func.count(), func.min(outbox.c.created_at)).where(
    outbox.c.published_at.is_(None)
)


# --- the doorbell: a commit that wrote events wakes the relay ------------------------------
#
# Without it the relay finds new rows only when it next polls, and every live
# update waits half a poll interval on average (bench/realtime.py). A write marks
# its connection; the unit of work, once the commit has succeeded, rings what
# the composition root hung on the engine (saveit.events.doorbell). Keyed by
# engine, not by Database, because services wrap the same engine in Database
# objects of their own. A ring is a hint: a missed one costs one poll interval.

_WROTE = "saveit.outbox_written"
_BELLS: WeakKeyDictionary[Engine, Callable[[], None]] = WeakKeyDictionary()


def mark_written(conn: Connection) -> None:
    """Note that this transaction wrote an outbox row (see :func:`take_written`)."""
    conn.info[_WROTE] = True


def take_written(conn: Connection) -> bool:
    """Whether the transaction on ``conn`` wrote an outbox row, forgetting it: the
    mark lives on the pooled DBAPI connection and must not reach its next user."""
    return bool(conn.info.pop(_WROTE, False))


def hang_doorbell(engine: Engine, ring: Callable[[], None] | None) -> None:
    """``ring`` runs after every commit on ``engine`` that wrote events (None: nothing)."""
    if ring is None:
        _BELLS.pop(engine, None)
    else:
        _BELLS[engine] = ring


def doorbell(engine: Engine) -> Callable[[], None] | None:
    return _BELLS.get(engine)


def emit(
    conn: Connection, *, restaurant_id: int, type_: str, payload: dict[str, Any], at: datetime
) -> str:
    """An outbox event on its own (changes that write no audit row)."""
    row = event_row(restaurant_id=restaurant_id, type_=type_, payload=payload, at=at)
    conn.execute(INSERT_OUTBOX, row)
    mark_written(conn)
    return str(row["event_id"])


EVENT_COLUMNS = ("event_id", "restaurant_id", "type", "payload", "created_at")


def event_written_if(condition: Any, name: str) -> Any:
    """A ``WITH`` (named ``name``) that inserts the event whose row
    :func:`event_params` binds, only when ``condition`` holds: the event of a
    statement that writes a change and its event in one round trip."""
    values = select(*(bindparam(f"ev_{c}", type_=outbox.c[c].type) for c in EVENT_COLUMNS))
    return (
        insert(outbox)
        .from_select(list(EVENT_COLUMNS), values.where(condition), include_defaults=False)
        .returning(outbox.c.id)
        .cte(name)
    )


def event_params(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`event_row`'s values as :func:`event_written_if`'s parameters."""
    return {f"ev_{k}": v for k, v in event.items()}


def event_row(
    *, restaurant_id: int, type_: str, payload: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """An event's outbox row, with a new id and the trace it was written under."""
    return {
        "event_id": str(uuid.uuid4()),
        "restaurant_id": restaurant_id,
        "type": type_,
        "payload": with_carrier(payload),
        "created_at": at,
    }


def backlog(conn: Connection) -> tuple[int, datetime | None]:
    """Unpublished rows and the creation time of the oldest (one indexed query)."""
    count, oldest = conn.execute(_BACKLOG).one()
    return int(count), oldest


def event_of(row: Any) -> Event:
    """An outbox row as the event the relay publishes."""
    return Event(
        event_id=row.event_id,
        type=row.type,
        restaurant_id=row.restaurant_id,
        payload=row.payload,
        created_at=row.created_at,
        outbox_id=row.id,
    )


# --- the relay ---------------------------------------------------------------------------


# The relay's three statements, built once: it runs them for every batch (a booking
# burst is hundreds of small batches a second), and building them again each time
# took a third of the relay's interpreter time.
#
# The oldest unpublished rows are read in the order of the (published_at, id) index:
# the same order as by id alone, since every published_at read is NULL, but one the
# pkey cannot give. Ordered by id, PostgreSQL at times walked the pkey and filtered
# out every published row of the partition on each poll (1.7 ms a batch, 43 ms at
# worst in bench/booking.py, auto_explain), a new partition having no statistics.
_UNPUBLISHED = (
    select(outbox)
    .where(outbox.c.published_at.is_(None))
    .order_by(outbox.c.published_at, outbox.c.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
_UNPUBLISHED_UP_TO = (
    select(func.count())
    .select_from(outbox)
    .where(
        outbox.c.published_at.is_(None),
        outbox.c.id <= bindparam("last_id", type_=BigInteger),
    )
)


@cache
def _mark_published(dialect: str) -> Any:
    """The batch's ids as one array on PostgreSQL (``store.database.one_of``): as an
    expanding ``IN``, rendering the statement for every batch was a seventh of the
    relay's interpreter time (``bench/booking.py``, py-spy)."""
    return (
        update(outbox)
        .where(one_of(dialect, outbox.c.id, "ids"))
        .values(published_at=bindparam("at", type_=outbox.c.published_at.type))
    )


def lock_unpublished(conn: Connection, limit: int) -> list[Event]:
    """The oldest unpublished rows, locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL:
    rows another relay holds are skipped, not waited for)."""
    rows = conn.execute(_UNPUBLISHED, {"limit": limit}).all()
    return [event_of(row) for row in rows]


def is_oldest(conn: Connection, size: int, last_id: int) -> bool:
    """True when no unpublished row up to ``last_id`` is missing from a batch of ``size``."""
    unpublished = conn.execute(_UNPUBLISHED_UP_TO, {"last_id": last_id}).scalar_one()
    return int(unpublished) == size


def mark_published(conn: Connection, ids: list[int], at: datetime) -> None:
    conn.execute(_mark_published(conn.dialect.name), {"ids": ids, "at": at})


def unhandled(conn: Connection, group: str, since: datetime, limit: int) -> list[Event]:
    """Published rows created from ``since`` on, after the last one ``group`` recorded
    as handled, that it has not handled (the in-process bus's replay on start)."""
    handled = select(processed_events.c.event_id).where(processed_events.c.consumer == group)
    position = conn.execute(
        select(func.max(outbox.c.id)).where(outbox.c.event_id.in_(handled))
    ).scalar()
    rows = conn.execute(
        select(outbox)
        .where(
            outbox.c.published_at.is_not(None),
            outbox.c.created_at >= since,
            outbox.c.id > (position or 0),
            outbox.c.event_id.not_in(handled),
        )
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    return [event_of(row) for row in rows]


# --- the live feed -----------------------------------------------------------------------


def head(conn: Connection) -> int:
    """The highest committed outbox id (0 when empty)."""
    return int(conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one())


def bounds(conn: Connection) -> tuple[int, int]:
    """The lowest and the highest outbox id (0, 0 when empty)."""
    lowest, highest = conn.execute(
        select(func.coalesce(func.min(outbox.c.id), 0), func.coalesce(func.max(outbox.c.id), 0))
    ).one()
    return int(lowest), int(highest)


def of_restaurant_after(
    conn: Connection, restaurant_id: int, after: int, limit: int
) -> list[Event]:
    """The restaurant's events after outbox id ``after``, in order, at most ``limit``."""
    rows = conn.execute(
        select(outbox)
        .where(outbox.c.restaurant_id == restaurant_id, outbox.c.id > after)
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    return [event_of(row) for row in rows]


def after(conn: Connection, cursor: int, also: list[int], limit: int) -> list[Event]:
    """Events after outbox id ``cursor``, plus the ids in ``also`` (skipped earlier
    and asked again), in id order, at most ``limit``."""
    where = outbox.c.id > cursor
    if also:
        where = or_(where, outbox.c.id.in_(also))
    rows = conn.execute(select(outbox).where(where).order_by(outbox.c.id).limit(limit)).all()
    return [event_of(row) for row in rows]


class OutboxRepository(Repository):
    """Events waiting for the relay, and read back by id."""

    emit = bound(emit)
    backlog = bound(backlog)
    lock_unpublished = bound(lock_unpublished)
    is_oldest = bound(is_oldest)
    mark_published = bound(mark_published)
    unhandled = bound(unhandled)
    head = bound(head)
    bounds = bound(bounds)
    of_restaurant_after = bound(of_restaurant_after)
    after = bound(after)
