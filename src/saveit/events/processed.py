"""Which events each consumer group has already handled: the idempotency store.

Buses deliver at least once (a relay may republish after a crash, a reclaimed
entry may have been handled just before its consumer died), so the consumer
runner asks here before calling a handler and records the event id after the
handler succeeded — for a whole batch at a time (:meth:`ProcessedStore.seen_many`,
:meth:`ProcessedStore.mark_many`: one statement each on the SQL store). The key
is ``(consumer group, event_id)``: another group handling the same event is a
different, legitimate delivery.

The durable store is a database table, not Redis, so it survives a Redis flush
or failover (Redis replication is asynchronous) and works the same in the
embedded SQLite mode. :class:`MemoryProcessedStore` suits consumers whose
effects die with the process anyway (live websocket fan-out) and tests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, bindparam, delete, select

from saveit.store.database import ignoring_conflicts, reading
from saveit.store.partitions import insert_absent, is_partitioned
from saveit.store.schema import processed_events


class ProcessedStore(Protocol):
    def seen(self, consumer: str, event_id: str) -> bool:
        """True when ``consumer`` already handled ``event_id``."""

    def mark(self, consumer: str, event_id: str) -> None:
        """Record that ``consumer`` handled ``event_id`` (recording twice is harmless)."""

    def seen_many(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """Which of ``event_ids`` ``consumer`` already handled."""

    def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None:
        """Record that ``consumer`` handled each of ``event_ids`` (again is harmless)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


_SEEN = select(processed_events.c.event_id).where(
    processed_events.c.consumer == bindparam("consumer"),
    processed_events.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
_MARK_CHUNK = 500  # rows per INSERT: 3 parameters each, far below SQLite's limit


class SqlProcessedStore:
    """The ``processed_events`` table; :meth:`prune` keeps it to the replay horizon."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def seen(self, consumer: str, event_id: str) -> bool:
        return event_id in self.seen_many(consumer, [event_id])

    def mark(self, consumer: str, event_id: str) -> None:
        self.mark_many(consumer, [event_id])

    def seen_many(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """One ``SELECT … IN`` for the whole batch (none for an empty one)."""
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return set()
        with reading(self.engine) as conn:
            rows = conn.execute(_SEEN, {"consumer": consumer, "event_ids": wanted})
            return {str(row.event_id) for row in rows}

    def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None:
        """One multi-row ``INSERT … ON CONFLICT DO NOTHING`` in one transaction
        (per 500 ids); ids recorded before, or twice in ``event_ids``, are kept once."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return
        now = self.clock()
        with self.engine.begin() as conn:
            if is_partitioned(conn, "processed_events"):  # no unique key to conflict on
                rows = [{"consumer": consumer, "event_id": e, "processed_at": now} for e in ids]
                insert_absent(conn, processed_events, ("consumer", "event_id"), rows)
                return
            statement = ignoring_conflicts(conn.dialect.name, processed_events)
            for at in range(0, len(ids), _MARK_CHUNK):
                rows = [
                    {"consumer": consumer, "event_id": event_id, "processed_at": now}
                    for event_id in ids[at : at + _MARK_CHUNK]
                ]
                conn.execute(statement.values(rows))

    def prune(self, before: datetime) -> int:
        """Forget ids older than ``before`` — anything older than the stream's
        retention can no longer be redelivered. Returns how many were removed."""
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(processed_events).where(processed_events.c.processed_at < before)
            )
            return done.rowcount


class MemoryProcessedStore:
    """A bounded in-memory set (oldest ids forgotten first); thread-safe."""

    def __init__(self, *, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, consumer: str, event_id: str) -> bool:
        return event_id in self.seen_many(consumer, [event_id])

    def mark(self, consumer: str, event_id: str) -> None:
        self.mark_many(consumer, [event_id])

    def seen_many(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        with self._lock:
            return {e for e in event_ids if (consumer, e) in self._ids}

    def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None:
        with self._lock:
            for event_id in event_ids:
                self._ids[(consumer, event_id)] = None
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
