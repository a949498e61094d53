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

from saveit.store.unit_of_work import Database, DatabaseLike, database_of


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


class SqlProcessedStore:
    """The ``processed_events`` table; :meth:`prune` keeps it to the replay horizon."""

    def __init__(
        self, database: Database | DatabaseLike, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.db = database_of(database)
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
        with self.db.reading() as r:
            return r.processed.seen(consumer, wanted)

    def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None:
        """One multi-row ``INSERT … ON CONFLICT DO NOTHING`` in one transaction
        (per 500 ids); ids recorded before, or twice in ``event_ids``, are kept once."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return
        now = self.clock()
        with self.db.unit_of_work() as uow:
            uow.processed.mark(consumer, ids, now)

    def prune(self, before: datetime) -> int:
        """Forget ids older than ``before`` — anything older than the stream's
        retention can no longer be redelivered. Returns how many were removed."""
        with self.db.unit_of_work() as uow:
            return uow.processed.prune(before)


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
