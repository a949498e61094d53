"""Which events each consumer group has already handled: the idempotency store.

Buses deliver at least once (a relay may republish after a crash, a reclaimed
entry may have been handled just before its consumer died), so the consumer
runner asks here before calling a handler and records the event id after the
handler succeeded. The key is ``(consumer group, event_id)``: another group
handling the same event is a different, legitimate delivery.

The durable store is a database table, not Redis, so it survives a Redis flush
or failover (Redis replication is asynchronous) and works the same in the
embedded SQLite mode. :class:`MemoryProcessedStore` suits consumers whose
effects die with the process anyway (live websocket fan-out) and tests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, delete, select

from saveit.store.database import ignoring_conflicts
from saveit.store.schema import processed_events


class ProcessedStore(Protocol):
    def seen(self, consumer: str, event_id: str) -> bool:
        """True when ``consumer`` already handled ``event_id``."""

    def mark(self, consumer: str, event_id: str) -> None:
        """Record that ``consumer`` handled ``event_id`` (recording twice is harmless)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlProcessedStore:
    """The ``processed_events`` table; :meth:`prune` keeps it to the replay horizon."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def seen(self, consumer: str, event_id: str) -> bool:
        query = select(processed_events.c.event_id).where(
            processed_events.c.consumer == consumer, processed_events.c.event_id == event_id
        )
        with self.engine.connect() as conn:
            conn.execution_options(readonly=True)
            with conn.begin():
                return conn.execute(query).first() is not None

    def mark(self, consumer: str, event_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                ignoring_conflicts(conn.dialect.name, processed_events),
                {"consumer": consumer, "event_id": event_id, "processed_at": self.clock()},
            )

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
        with self._lock:
            return (consumer, event_id) in self._ids

    def mark(self, consumer: str, event_id: str) -> None:
        with self._lock:
            self._ids[(consumer, event_id)] = None
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
