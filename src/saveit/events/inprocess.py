"""The embedded default bus: Redis Streams semantics inside one process.

Kept deliberately faithful to :class:`~saveit.events.redis_streams.RedisStreamsBus`
(groups, pending entries, idle-time reclaim, at-least-once, dead letters) so a
consumer tested against one behaves the same on the other. Entries are stored in
their wire form, so a payload that would not serialise for Redis fails here too.
Thread-safe: one condition variable guards everything and wakes blocked readers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from saveit.domain.events import Event
from saveit.events.bus import DEFAULT_MAXLEN, BusError, Delivery, PendingEntry

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass
class _Group:
    last_delivered: int
    pending: dict[int, _Pending] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    group: str
    message_id: str
    event: Event
    reason: str


class InProcessBus:
    """A bounded in-memory log with consumer groups; see :mod:`saveit.events.bus`."""

    def __init__(
        self, *, maxlen: int = DEFAULT_MAXLEN, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxlen = maxlen
        self._now = monotonic
        self._cond = threading.Condition()
        self._log: OrderedDict[int, dict[str, str]] = OrderedDict()
        self._seq = 0
        self._groups: dict[str, _Group] = {}
        self.dead_letters: list[DeadLetter] = []

    def publish(self, events: Sequence[Event]) -> None:
        entries = [event.to_fields() for event in events]  # serialise first: all or nothing
        with self._cond:
            for entry in entries:
                self._seq += 1
                self._log[self._seq] = entry
            while len(self._log) > self.maxlen:
                self._log.popitem(last=False)
            self._cond.notify_all()

    def ensure_group(self, group: str, *, start: str = "0") -> None:
        with self._cond:
            if group not in self._groups:
                self._groups[group] = _Group(last_delivered=self._seq if start == "$" else 0)

    def read(
        self, group: str, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[Delivery]:
        deadline = self._now() + block_ms / 1000
        with self._cond:
            state = self._group(group)
            while True:
                fresh = self._after(state.last_delivered, count)
                if fresh:
                    break
                remaining = deadline - self._now()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            now = self._now()
            state.last_delivered = fresh[-1]
            for seq in fresh:
                state.pending[seq] = _Pending(consumer, now, 1)
            return [Delivery(_id(seq), Event.from_fields(self._log[seq])) for seq in fresh]

    def ack(self, group: str, message_ids: Sequence[str]) -> int:
        with self._cond:
            state = self._group(group)
            return sum(state.pending.pop(_seq(m), None) is not None for m in message_ids)

    def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery]:
        with self._cond:
            state, now = self._group(group), self._now()
            claimed: list[Delivery] = []
            for seq in sorted(state.pending):
                if len(claimed) >= count:
                    break
                entry = state.pending[seq]
                if (now - entry.delivered_at) * 1000 < min_idle_ms:
                    continue
                if seq not in self._log:  # trimmed away before anyone acked it
                    del state.pending[seq]
                    log.warning("event %s of group %s was trimmed before ack", _id(seq), group)
                    continue
                entry.consumer, entry.delivered_at = consumer, now
                entry.deliveries += 1
                event = Event.from_fields(self._log[seq])
                claimed.append(Delivery(_id(seq), event, entry.deliveries))
            return claimed

    def pending(self, group: str, *, count: int = 1000) -> list[PendingEntry]:
        with self._cond:
            state, now = self._group(group), self._now()
            return [
                PendingEntry(_id(seq), p.consumer, int((now - p.delivered_at) * 1000), p.deliveries)
                for seq, p in sorted(state.pending.items())[:count]
            ]

    def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        with self._cond:
            self.dead_letters.append(DeadLetter(group, delivery.message_id, delivery.event, reason))
            self._group(group).pending.pop(_seq(delivery.message_id), None)

    def group_lag(self) -> dict[str, int]:
        """Per group: entries not yet delivered plus entries delivered and not acked."""
        with self._cond:
            return {
                name: max(0, self._seq - state.last_delivered) + len(state.pending)
                for name, state in self._groups.items()
            }

    def close(self) -> None:
        """Nothing to release; present for the :class:`~saveit.events.bus.Bus` contract."""

    def __len__(self) -> int:
        with self._cond:
            return len(self._log)

    def _after(self, seq: int, count: int) -> list[int]:
        """Up to ``count`` sequence numbers after ``seq``; the log's keys are contiguous."""
        if not self._log:
            return []
        first = max(seq + 1, next(iter(self._log)))
        return list(range(first, min(first + count, self._seq + 1)))

    def _group(self, group: str) -> _Group:
        try:
            return self._groups[group]
        except KeyError:
            raise BusError(f"no consumer group {group!r}; call ensure_group first") from None


def _id(seq: int) -> str:
    return f"{seq}-0"


def _seq(message_id: str) -> int:
    return int(message_id.partition("-")[0])
