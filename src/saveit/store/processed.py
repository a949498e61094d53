"""``processed_events``: which events each consumer group has handled (see
:mod:`saveit.events.processed`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select, text

from saveit.store.absent import insert_absent
from saveit.store.database import ignoring_conflicts
from saveit.store.partitions import is_partitioned
from saveit.store.repository import Repository, bound
from saveit.store.schema import processed_events

_SEEN = select(processed_events.c.event_id).where(
    processed_events.c.consumer == bindparam("consumer"),
    processed_events.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
# On PostgreSQL: one probe of the key's index per id, whatever the planner guesses.
# Bound as an IN list, a batch's ids left the plan to the table's statistics, and a
# partition that had none yet (a new month, a fresh database) was read by consumer
# alone, every row of it, the ids as a filter: 2–5 ms a batch in bench/booking.py,
# growing with the partition. ``OFFSET 0`` keeps the EXISTS a probe rather than a
# join the planner could turn into hashing the table.
_SEEN_PROBED = text(
    "SELECT i.id FROM unnest(CAST(:event_ids AS text[])) AS i (id) "
    "WHERE EXISTS (SELECT 1 FROM processed_events AS t "
    "WHERE t.consumer = :consumer AND t.event_id = i.id OFFSET 0)"
)
_MARK_CHUNK = 500  # rows per INSERT: 3 parameters each, far below SQLite's limit


def seen(conn: Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Which of ``event_ids`` (not empty) ``consumer`` handled, in one statement."""
    params = {"consumer": consumer, "event_ids": list(event_ids)}
    if conn.dialect.name == "postgresql":
        return {str(row.id) for row in conn.execute(_SEEN_PROBED, params)}
    return {str(row.event_id) for row in conn.execute(_SEEN, params)}


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
