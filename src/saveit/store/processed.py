"""``processed_events``: which events each consumer group has handled (see
:mod:`saveit.events.processed`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from saveit.store.absent import insert_absent
from saveit.store.database import ignoring_conflicts
from saveit.store.partitions import is_partitioned
from saveit.store.repository import Repository, bound
from saveit.store.schema import processed_events

_SEEN = select(processed_events.c.event_id).where(
    processed_events.c.consumer == bindparam("consumer"),
    processed_events.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
_MARK_CHUNK = 500  # rows per INSERT: 3 parameters each, far below SQLite's limit


def seen(conn: Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Which of ``event_ids`` (not empty) ``consumer`` handled: one ``SELECT … IN``."""
    rows = conn.execute(_SEEN, {"consumer": consumer, "event_ids": list(event_ids)})
    return {str(row.event_id) for row in rows}


def mark(conn: Connection, consumer: str, event_ids: Sequence[str], now: datetime) -> None:
    """One multi-row ``INSERT … ON CONFLICT DO NOTHING`` per 500 distinct ids; ids
    recorded before are kept once."""
    if is_partitioned(conn, "processed_events"):  # no unique key to conflict on
        rows = [{"consumer": consumer, "event_id": e, "processed_at": now} for e in event_ids]
        insert_absent(conn, processed_events, ("consumer", "event_id"), rows)
        return
    statement = ignoring_conflicts(conn.dialect.name, processed_events)
    for at in range(0, len(event_ids), _MARK_CHUNK):
        rows = [
            {"consumer": consumer, "event_id": event_id, "processed_at": now}
            for event_id in event_ids[at : at + _MARK_CHUNK]
        ]
        conn.execute(statement.values(rows))


def prune(conn: Connection, before: datetime) -> int:
    """Forget ids recorded before ``before``; how many were removed."""
    done = conn.execute(delete(processed_events).where(processed_events.c.processed_at < before))
    return done.rowcount


class ProcessedRepository(Repository):
    """Which events each consumer group has handled."""

    seen = bound(seen)
    mark = bound(mark)
    prune = bound(prune)
