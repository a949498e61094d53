"""The production bus: one Redis stream read through consumer groups.

Layout: a single global stream (``saveit:events`` by default) rather than one
per restaurant. Every consumer we have (notifier, realtime fan-out, cache
invalidation, analytics) wants every restaurant's events; one stream means one
consumer group per consumer and one ``XREADGROUP`` key, with no discovery of
new restaurants' streams, and it keeps the outbox's global order, which is what
the relay guarantees. A stream sustains far more appends than reservation
traffic produces; if one shard ever becomes the limit, the path is N fixed
partitions ``saveit:events:{p}`` with ``p = restaurant_id % N`` (per-restaurant
order kept), not a stream per restaurant.

* ``XADD … MAXLEN ~ n`` in a ``MULTI``/``EXEC`` pipeline: a batch lands whole
  or not at all, in one round trip, with cheap approximate trimming.
* ``XREADGROUP`` / ``XACK`` / ``XAUTOCLAIM`` (with a per-group cursor, so a long
  pending list is scanned round-robin) implement the :mod:`saveit.events.bus`
  contract; ``XPENDING`` supplies delivery counts for reclaimed entries.
* Timeouts are short and redis-py's own retries are off: a dead Redis answers
  :class:`~saveit.events.bus.BusUnavailable` within about a second and the
  caller (relay, consumer) owns the backoff. Blocking reads are clamped below
  the socket timeout so an idle ``BLOCK`` is never mistaken for a dead server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from saveit.domain.events import Event, MalformedEvent
from saveit.events.bus import DEFAULT_MAXLEN, BusError, BusUnavailable, Delivery, PendingEntry

log = logging.getLogger(__name__)

DEFAULT_STREAM = "saveit:events"


class RedisStreamsBus:
    """See the module docstring; ``stream`` doubles as the key prefix (dead letters)."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        maxlen: int = DEFAULT_MAXLEN,
        socket_timeout_s: float = 1.0,
        connect_timeout_s: float = 0.5,
    ) -> None:
        self.stream = stream
        self.dead_stream = f"{stream}:dead"
        self.maxlen = maxlen
        self._max_block_ms = int(socket_timeout_s * 800)
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
            decode_responses=True,
            client_name="saveit-events",
        )
        self._starts: dict[str, str] = {}
        self._claim_cursor: dict[str, str] = {}

    # --- publishing -----------------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        entries = [event.to_fields() for event in events]
        with _translated(), self._redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                pipe.xadd(self.stream, cast(Any, entry), maxlen=self.maxlen, approximate=True)
            pipe.execute()

    # --- consuming ------------------------------------------------------------------

    def ensure_group(self, group: str, *, start: str = "0") -> None:
        self._starts[group] = start
        with _translated():
            try:
                self._redis.xgroup_create(self.stream, group, id=start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read(
        self, group: str, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[Delivery]:
        block = min(block_ms, self._max_block_ms) or None
        with _translated():
            try:
                raw = self._xreadgroup(group, consumer, count, block)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc) or group not in self._starts:
                    raise
                # Redis lost the group (restart without persistence): recreate and go on.
                log.warning("consumer group %s vanished from %s; recreating", group, self.stream)
                self.ensure_group(group, start=self._starts[group])
                raw = self._xreadgroup(group, consumer, count, block)
        entries = raw[0][1] if raw else []
        return self._deliveries(group, entries, {})

    def ack(self, group: str, message_ids: Sequence[str]) -> int:
        if not message_ids:
            return 0
        with _translated():
            return self._redis.xack(self.stream, group, *message_ids)

    def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery]:
        with _translated():
            cursor, entries, deleted = self._redis.xautoclaim(
                self.stream,
                group,
                consumer,
                min_idle_ms,
                start_id=self._claim_cursor.get(group, "0-0"),
                count=count,
            )
            self._claim_cursor[group] = cursor
            if deleted:
                log.warning(
                    "%d pending events of group %s were trimmed from %s before ack: %s",
                    len(deleted),
                    group,
                    self.stream,
                    deleted,
                )
            counts = self._delivery_counts(group, consumer, entries)
        return self._deliveries(group, entries, counts)

    def pending(self, group: str, *, count: int = 1000) -> list[PendingEntry]:
        with _translated():
            rows = self._redis.xpending_range(self.stream, group, "-", "+", count)
        return [
            PendingEntry(
                message_id=row["message_id"],
                consumer=row["consumer"],
                idle_ms=int(row["time_since_delivered"]),
                deliveries=int(row["times_delivered"]),
            )
            for row in cast("list[dict[str, Any]]", rows)
        ]

    def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        self._park(group, delivery.message_id, delivery.event.to_fields(), reason)

    def group_lag(self) -> dict[str, int]:
        """Per group: entries not yet delivered (Redis 7's ``lag``) plus pending ones."""
        with _translated():
            groups = self._redis.xinfo_groups(self.stream)
        return {str(g["name"]): int(g.get("lag") or 0) + int(g.get("pending") or 0) for g in groups}

    def healthy(self) -> bool:
        """True when Redis answers a PING (for readiness probes)."""
        try:
            with _translated():
                return bool(self._redis.ping())
        except BusUnavailable:
            return False

    def close(self) -> None:
        self._redis.close()

    # --- helpers ----------------------------------------------------------------------

    def _xreadgroup(self, group: str, consumer: str, count: int, block: int | None) -> Any:
        return self._redis.xreadgroup(group, consumer, {self.stream: ">"}, count=count, block=block)

    def _delivery_counts(
        self, group: str, consumer: str, entries: Sequence[tuple[str, Any]]
    ) -> dict[str, int]:
        if not entries:
            return {}
        rows = self._redis.xpending_range(
            self.stream, group, entries[0][0], entries[-1][0], len(entries), consumername=consumer
        )
        return {
            row["message_id"]: int(row["times_delivered"])
            for row in cast("list[dict[str, Any]]", rows)
        }

    def _deliveries(
        self,
        group: str,
        entries: Sequence[tuple[str, Mapping[str, str] | None]],
        counts: Mapping[str, int],
    ) -> list[Delivery]:
        out: list[Delivery] = []
        for message_id, fields in entries:
            try:
                event = Event.from_fields(fields or {})
            except MalformedEvent as exc:
                # Retrying cannot fix it: park it where an operator can look, and move on.
                log.error("unreadable entry %s on %s: %s", message_id, self.stream, exc)
                self._park(group, message_id, dict(fields or {}), f"malformed: {exc}")
                continue
            out.append(Delivery(message_id, event, counts.get(message_id, 1)))
        return out

    def _park(self, group: str, message_id: str, fields: Mapping[str, str], reason: str) -> None:
        parked = {**fields, "group": group, "message_id": message_id, "reason": reason[:1000]}
        with _translated(), self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, cast(Any, parked), maxlen=self.maxlen, approximate=True)
            pipe.xack(self.stream, group, message_id)
            pipe.execute()


@contextmanager
def _translated() -> Iterator[None]:
    """redis-py errors as bus errors: unreachable (retry later) versus refused (a bug)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BusUnavailable(f"Redis unreachable: {exc}") from exc
    except redis.RedisError as exc:
        raise BusError(f"Redis refused: {exc}") from exc
