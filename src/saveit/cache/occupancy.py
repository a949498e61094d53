"""The bookings a miss read, held briefly for the misses and refusals right after it.

A booking invalidates its day (a new cache generation) before anyone could read
availability that includes it, so while the generation a miss read is the one
the last read held, those bookings are still the day's: the misses of the day's
other variants then cost no query. And a refused time's alternatives need the
day's bookings as fresh as a cached answer, which a copy read moments ago,
after every change this process made or heard of, is. Held briefly
(``OCCUPANCY_TTL_S``), as the near cache holds its copies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import date

from saveit.domain.availability import Occupancy
from saveit.domain.model import Restaurant

OCCUPANCY_TTL_S = 1.0  # a day's bookings reused across party sizes for at most this long
HELD_MAX = 1_000
CHANGES_MAX = 10_000


class HeldOccupancies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, date], tuple[str, float, Restaurant, Occupancy]] = {}
        self._changed_at: dict[tuple[int, date], float] = {}  # last invalidation seen here

    def get(self, slug: str, day: date, generation: str) -> tuple[Restaurant, Occupancy] | None:
        """What a miss of this generation read, if recent enough."""
        with self._lock:
            held = self._held.get((slug, day))
        if held is None or held[0] != generation:
            return None
        if time.monotonic() - held[1] >= OCCUPANCY_TTL_S:
            return None
        return held[2], held[3]

    def hold(
        self,
        slug: str,
        days: Sequence[date],
        generations: Sequence[str],
        restaurant: Restaurant,
        occupancy: Occupancy,
    ) -> None:
        """``occupancy`` as read for each day under that day's generation (several
        days share one when a week was read at once)."""
        now = time.monotonic()
        with self._lock:
            if len(self._held) > HELD_MAX:
                self._held.clear()
            for day, generation in zip(days, generations, strict=True):
                self._held[(slug, day)] = (generation, now, restaurant, occupancy)

    def recent(self, slug: str, day: date) -> Occupancy | None:
        """The day's bookings if read under ``OCCUPANCY_TTL_S`` ago and after every
        change to the day this process has made or heard of."""
        with self._lock:
            held = self._held.get((slug, day))
            if held is None or time.monotonic() - held[1] >= OCCUPANCY_TTL_S:
                return None
            if self._changed_at.get((held[2].id, day), 0.0) >= held[1]:
                return None
        return held[3]

    def changed(self, restaurant_id: int, days: Iterable[date]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._changed_at) > CHANGES_MAX:
                self._changed_at.clear()
                self._held.clear()  # nothing held may outlive what it is checked by
            for day in days:
                self._changed_at[(restaurant_id, day)] = now
