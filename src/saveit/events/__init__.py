"""Events leave the database through the outbox and reach consumers through a bus.

The booking engine writes one ``outbox`` row per state change inside its own
transaction; :class:`~saveit.events.relay.OutboxRelay` copies those rows onto a
:class:`~saveit.events.bus.Bus` in id order and marks them published;
:class:`~saveit.events.consumer.Consumer` runs a handler per event for one
consumer group, at least once, and skips events its group already handled.
"""

from __future__ import annotations

from saveit.domain.events import EVENT_TYPES, Event
from saveit.events.bus import Bus, BusError, BusUnavailable, Delivery, PendingEntry
from saveit.events.consumer import Consumer, ConsumerStats
from saveit.events.inprocess import InProcessBus
from saveit.events.processed import MemoryProcessedStore, ProcessedStore, SqlProcessedStore
from saveit.events.redis_streams import RedisStreamsBus
from saveit.events.relay import OutboxRelay

__all__ = [
    "EVENT_TYPES",
    "Bus",
    "BusError",
    "BusUnavailable",
    "Consumer",
    "ConsumerStats",
    "Delivery",
    "Event",
    "InProcessBus",
    "MemoryProcessedStore",
    "OutboxRelay",
    "PendingEntry",
    "ProcessedStore",
    "RedisStreamsBus",
    "SqlProcessedStore",
]
