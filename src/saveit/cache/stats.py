"""What a process's availability cache did since it started, counted in the
process (a debugger's view; operators read the same events as Prometheus
counters, :mod:`saveit.observe.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    coalesced: int = 0  # misses answered by another thread's computation of the day
    bypassed: int = 0
    stored: int = 0
    refused: int = 0  # puts refused because the day was invalidated meanwhile
    invalidations: int = 0
    deferred: int = 0  # invalidations queued while the store was away
