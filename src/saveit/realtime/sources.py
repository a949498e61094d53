"""Where the live feed reads events from: a Redis stream tail, a bus group, or the outbox.

Why a plain ``XREAD`` tail of ``saveit:events`` and not a consumer group or
Redis pub/sub: live fan-out needs *every* API process to see *every* event,
which is the opposite of a consumer group (one member per event). Pub/sub
would need a second publish path fed by the relay and drops whatever is sent
while a subscriber is disconnected; the stream the relay already writes is
retained, so a tail that remembers the last entry id it read resumes after a
Redis blip or outage without a gap, and nothing new has to be published.
``XREAD BLOCK`` wakes as soon as the relay appends, so it adds no polling delay.

The embedded default has no Redis: :class:`BusTail` reads the in-process bus
through a group of its own started at ``"$"`` (only events from now on).

:class:`OutboxPoller` is the degraded path, the outbox table read by id. Ids are
allocated at insert and committed in any order, so a row may appear after
higher ids were already read; the poller remembers the ids it skipped (gaps) for
a few seconds and asks for them again, so a late commit is not lost while a
rolled-back id does not stay on the list forever.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from saveit.domain.events import Event, MalformedEvent
from saveit.events.bus import Bus, BusUnavailable
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger(__name__)

MAX_GAPS = 1000  # more skipped ids than this at once is a burst of rollbacks, not late commits


class Source(Protocol):
    """A live event source: every event published from ``connect`` on, in order."""

    name: str

    def connect(self) -> None:
        """Get ready to read (the first call fixes the starting point); raise
        :class:`~saveit.events.bus.BusUnavailable` if unreachable."""

    def read(self, block_ms: int) -> list[Event]:
        """Events published since the last read; wait up to ``block_ms`` for one."""

    def close(self) -> None: ...


class RedisTail:
    """``XREAD BLOCK`` on the events stream from the last entry this process read."""

    name = "redis"

    def __init__(self, url: str, stream: str, *, timeout_s: float = 1.0, count: int = 500) -> None:
        self.stream = stream
        self.count = count
        self._max_block_ms = 500
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s + self._max_block_ms / 1000,
            socket_connect_timeout=min(timeout_s, 0.5),
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            client_name="saveit-realtime",
        )
        self._last: str | None = None

    def connect(self) -> None:
        with _unavailable_on_redis_errors():
            if self._last is None:
                newest: Any = self._redis.xrevrange(self.stream, count=1)
                self._last = str(newest[0][0]) if newest else "0-0"
            else:
                self._redis.ping()

    def read(self, block_ms: int) -> list[Event]:
        if self._last is None:
            self.connect()
        last = self._last or "0-0"
        block = max(1, min(block_ms, self._max_block_ms))
        with _unavailable_on_redis_errors():
            raw: Any = self._redis.xread({self.stream: last}, count=self.count, block=block)
        events: list[Event] = []
        for _stream, entries in raw or []:
            for entry_id, fields in entries:
                self._last = entry_id
                try:
                    events.append(Event.from_fields(fields or {}))
                except MalformedEvent as exc:
                    log.error("live feed: unreadable entry %s: %s", entry_id, exc)
        return events

    def close(self) -> None:
        self._redis.close()


class BusTail:
    """Any :class:`~saveit.events.bus.Bus` read through a group of this process's own."""

    name = "bus"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.group = f"realtime-{uuid.uuid4().hex[:12]}"
        self._ready = False

    def connect(self) -> None:
        if not self._ready:
            self.bus.ensure_group(self.group, start="$")
            self._ready = True

    def read(self, block_ms: int) -> list[Event]:
        self.connect()
        deliveries = self.bus.read(self.group, "hub", count=500, block_ms=block_ms)
        if deliveries:
            self.bus.ack(self.group, [d.message_id for d in deliveries])
        return [d.event for d in deliveries]

    def close(self) -> None:
        """The bus belongs to the container, which closes it."""


class OutboxPoller:
    """Committed outbox rows after a cursor, late commits included (see module doc)."""

    name = "database"

    def __init__(
        self,
        database: Database | DatabaseLike,
        *,
        batch_size: int = 500,
        gap_ttl_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = database_of(database)
        self.batch_size = batch_size
        self.gap_ttl_s = gap_ttl_s
        self._now = monotonic
        self.cursor = 0
        self._gaps: dict[int, float] = {}

    def head(self) -> int:
        """The highest committed outbox id (0 when empty)."""
        with self.db.reading() as r:
            return r.outbox.head()

    def reset(self, cursor: int) -> None:
        self.cursor = cursor
        self._gaps.clear()

    def poll(self) -> list[Event]:
        now = self._now()
        self._gaps = {i: t for i, t in self._gaps.items() if t > now}
        with self.db.reading() as r:
            events = r.outbox.after(self.cursor, list(self._gaps), self.batch_size)
        for event in events:
            row_id = event.outbox_id
            if self._gaps.pop(row_id, None) is None and row_id > self.cursor:
                missing = range(self.cursor + 1, row_id)
                if len(missing) <= MAX_GAPS:
                    self._gaps.update(dict.fromkeys(missing, now + self.gap_ttl_s))
                self.cursor = row_id
        return events


class RecentIds:
    """The last ``size`` outbox ids delivered: drops the duplicates at-least-once
    delivery and a source switch produce."""

    def __init__(self, size: int = 20_000) -> None:
        self._order: deque[int] = deque()
        self._set: set[int] = set()
        self._size = size
        self.highest = 0

    def add(self, outbox_id: int) -> bool:
        """False when ``outbox_id`` was already delivered."""
        if outbox_id in self._set:
            return False
        self._set.add(outbox_id)
        self._order.append(outbox_id)
        if len(self._order) > self._size:
            self._set.discard(self._order.popleft())
        self.highest = max(self.highest, outbox_id)
        return True


@contextmanager
def _unavailable_on_redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise BusUnavailable(f"Redis unreachable for the live feed: {exc}") from exc
