"""A day's availability computed once per process, however many guests miss it at once.

A booking invalidates its day, and on a busy day the next reads of every party
size arrive within the few milliseconds a miss takes to read the day's bookings
and compute its starts. Each of them missed, and each computed the same day again:
under ``bench/booking.py``, 42% of the days an API process computed were a
computation of the same day, at the same cache generation, that another of its
threads was already making (``bench/README.md``).

So a miss first looks here. When another thread of this process is computing the
day at the generation this read found, it waits for that result and answers with
it (still a miss: it waited for a computation); otherwise it registers the days
it is about to compute, and days of its week that another thread is already
computing are left to that thread. The key holds the generation, so a read that
found a newer one (a booking came in between) never takes an older result: it
computes its own. A leader always completes its flight, with or without a result,
and a follower that finds no result for its size (an error, a size the leader did
not compute) computes alone, as it would have without this.

Only a guest's read with no area is coalesced: that is the read that computes
every party size of a day, and the one a busy day's guests all make.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from saveit.cache.entry import Entry

WAIT_S = 10.0  # a leader that takes longer than this is not waited for any more

FlightKey = tuple[str, int, str]  # (bucket, config_version, generation)


@dataclass(eq=False)
class Flight:
    """One day being computed by one thread; ``entries`` by party size once done."""

    done: threading.Event = field(default_factory=threading.Event)
    entries: Mapping[int, Entry] | None = None

    def wait(self, timeout_s: float = WAIT_S) -> Mapping[int, Entry] | None:
        """The leader's entries, or None (it failed, or took longer than ``timeout_s``)."""
        if not self.done.wait(timeout_s):
            return None
        return self.entries


class Flights:
    """The days this process is computing now, for a guest's reads with no area."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flying: dict[FlightKey, Flight] = {}

    def follow(self, key: FlightKey) -> tuple[Flight, bool]:
        """The flight computing ``key`` and False when there is one; else a new one,
        registered to the caller, and True: the caller leads it and must
        :meth:`land` it."""
        with self._lock:
            found = self._flying.get(key)
            if found is not None:
                return found, False
            flight = self._flying[key] = Flight()
        return flight, True

    def claim(self, keys: Iterable[FlightKey]) -> dict[FlightKey, Flight]:
        """Of these days, those nobody computes yet, registered to the caller, who
        leads them too."""
        led: dict[FlightKey, Flight] = {}
        with self._lock:
            for key in keys:
                if key not in self._flying:
                    led[key] = self._flying[key] = Flight()
        return led

    def land(
        self, led: Mapping[FlightKey, Flight], results: Mapping[FlightKey, Mapping[int, Entry]]
    ) -> None:
        """End the caller's flights, giving each its result (none for a day whose
        computation failed): their followers wake up."""
        with self._lock:
            for key, flight in led.items():
                if self._flying.get(key) is flight:
                    del self._flying[key]
        for key, flight in led.items():
            flight.entries = results.get(key)
            flight.done.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flying)
