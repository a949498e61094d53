"""The availability cache: Redis in production, process memory in the embedded default.

* :mod:`~saveit.cache.store` — the two stores and the generation guard against
  caching a read that raced a booking.
* :mod:`~saveit.cache.availability` — read-through with TTL, re-filtered by the
  current time on every read; bypassed when the store is away.
* :mod:`~saveit.cache.invalidation` — after-commit and event-stream invalidation.

Bookings never read it: the booking service re-validates against the database.
"""

from __future__ import annotations

from saveit.cache.availability import BYPASS, HIT, MISS, AvailabilityCache
from saveit.cache.stats import CacheStats
from saveit.cache.store import CacheStore, MemoryStore, NearCache, RedisStore

__all__ = [
    "BYPASS",
    "HIT",
    "MISS",
    "AvailabilityCache",
    "CacheStats",
    "CacheStore",
    "MemoryStore",
    "NearCache",
    "RedisStore",
]
