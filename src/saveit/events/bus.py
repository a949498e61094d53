"""The bus port: an append-only log read through consumer groups.

The contract is the Redis Streams one, so both adapters
(:class:`~saveit.events.inprocess.InProcessBus` for the embedded default and
:class:`~saveit.events.redis_streams.RedisStreamsBus` for production) behave
alike and code above them never asks which one it got:

* ``publish`` appends a batch atomically (all or nothing) in order.
* Each consumer group sees every event; inside a group each event goes to one
  member, and stays *pending* for that member until it is acknowledged.
* ``claim_stale`` hands pending events whose owner has been silent for
  ``min_idle_ms`` to another member, so a dead consumer loses nothing.
* Delivery is at least once. Deduplication by ``event_id`` is the consumer's job
  (:mod:`saveit.events.consumer`).

Adapters raise :class:`BusUnavailable` when the backing service cannot be
reached, so callers can back off and retry instead of crashing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from saveit.domain.events import Event

DEFAULT_MAXLEN = 100_000
"""Entries kept on the log. Far above a day's events for many restaurants, so a
consumer group that falls behind by hours still finds its events; trimming is
approximate on Redis (whole radix-tree nodes)."""


class BusError(Exception):
    """The bus refused an operation (misconfiguration, unknown group, …)."""


class BusUnavailable(BusError):
    """The bus could not be reached; nothing was (or may have been) done: retry later."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event handed to one consumer of a group; ``message_id`` is what gets acked."""

    message_id: str
    event: Event
    deliveries: int = 1  # how many times this group has handed this entry out


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry delivered to ``consumer`` and not acknowledged yet."""

    message_id: str
    consumer: str
    idle_ms: int
    deliveries: int


class Bus(Protocol):
    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` in order, atomically; raise :class:`BusUnavailable` if unreachable."""

    def ensure_group(self, group: str, *, start: str = "0") -> None:
        """Create ``group`` if missing. ``start="0"`` reads the retained log from its
        beginning (nothing published before the group existed is lost); ``"$"``
        only what is published from now on (fine for live fan-out)."""

    def read(
        self, group: str, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[Delivery]:
        """Up to ``count`` never-delivered events for ``consumer``; wait ``block_ms`` for one."""

    def ack(self, group: str, message_ids: Sequence[str]) -> int:
        """Acknowledge handled entries; returns how many were pending."""

    def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Delivery]:
        """Take over entries pending (on any member) for at least ``min_idle_ms``."""

    def pending(self, group: str, *, count: int = 1000) -> list[PendingEntry]:
        """Pending entries of ``group``, oldest first (inspection and tests)."""

    def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        """Park an entry the group gave up on (kept for inspection) and ack it."""

    def close(self) -> None:
        """Release connections."""
