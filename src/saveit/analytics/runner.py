"""The ``analytics`` consumer group in the worker: every event that can change a
figure marks the days it touched, and :class:`Coalescing` recomputes each marked
day at most once per ``SAVEIT_ANALYTICS_COALESCE_S``.

Handling an event twice is harmless here: a day is rebuilt whole, and the one
fact taken from an event itself (a handoff) is stored under its event id. So,
unlike the notifier's and the waitlist's, this group remembers what it handled
in memory only (:class:`~saveit.events.processed.MemoryProcessedStore`): a
redelivery after a restart costs a rebuild of the day it names, and every event
spares the two transactions (a look-up, and a commit that waits for the disk)
that the ``processed_events`` table costs the other groups. Every guest message
is an event this group reads: on ``bench/bot.py`` a guest's turn went from 47 to
42 statements and from 13.2 to 11.6 commits (bench/README.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from saveit.analytics.service import SURVEY_EVENTS, Analytics, Touched
from saveit.domain import events
from saveit.domain.model import Restaurant
from saveit.events.bus import Bus
from saveit.events.consumer import Consumer
from saveit.events.processed import MemoryProcessedStore
from saveit.resilience.priority import lower_priority

GROUP = "analytics"
# The consumer lingers a tenth of the coalescing period between batches (at most
# this): the days it notes are rebuilt once a period anyway, so reading the
# events in fewer, larger batches delays no figure (saveit.events.consumer).
LINGER_MAX_S = 1.0
log = logging.getLogger(__name__)


def accepts(event_type: str) -> bool:
    return (
        event_type.startswith("reservation.")
        or event_type.startswith("message.")
        or event_type in SURVEY_EVENTS
        or event_type == events.CONVERSATION_HANDED_OFF
    )


class Coalescing:
    """The consumer's handler: notes which (restaurant, family, day) each event
    touched, and rebuilds each noted day once per ``period_s`` instead of once per
    event.

    Rebuilding a day reads that day's rows, so one rebuild per event made a busy
    day's messages cost quadratically: on the bot bench the consumer's rebuilds
    took the worker's CPU from the guests' replies. A day is always rebuilt whole,
    so a later rebuild covers every event noted before it; what a crash loses is
    at most the last ``period_s`` of marks, repaired by the next event on that day
    (``saveit report`` computes days that have no counters at all)."""

    def __init__(self, analytics: Analytics, period_s: float) -> None:
        self.analytics = analytics
        self.period_s = period_s
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[Restaurant, Touched]] = {}
        self._flushed_at = time.monotonic()

    def handle(self, event: events.Event) -> None:
        absorbed = self.analytics.absorb(event)
        if absorbed is None or not absorbed[1]:
            return
        restaurant, touched = absorbed
        with self._lock:
            _, noted = self._pending.get(restaurant.id, (restaurant, set()))
            self._pending[restaurant.id] = (restaurant, noted | touched)
        if time.monotonic() - self._flushed_at >= self.period_s:
            self.flush()

    def flush(self) -> int:
        """Rebuild every noted day now; how many were rebuilt."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed_at = time.monotonic()
        done = 0
        for rid, (restaurant, touched) in list(pending.items()):
            try:
                self.analytics.recompute_all(restaurant, touched)
            except Exception:  # keep what is not rebuilt yet for the next flush
                with self._lock:
                    for key, (r, left) in pending.items():
                        _, noted = self._pending.get(key, (r, set()))
                        self._pending[key] = (r, noted | left)
                raise
            del pending[rid]
            done += len(touched)
        return done

    def run(self, stop: threading.Event) -> None:
        """Flush every ``period_s`` while events are quiet, and once more at the end."""
        while not stop.wait(self.period_s):
            try:
                self.flush()
            except Exception:  # the database is away: the marks wait for the next turn
                log.exception("analytics: rebuilding the noted days failed")
        self.flush()


def consumer(
    bus: Bus,
    handler: Callable[[events.Event], None],
    analytics: Analytics,
    *,
    linger_s: float = 0.0,
) -> Consumer:
    return Consumer(
        bus,
        GROUP,
        handler,
        processed=MemoryProcessedStore(),
        accepts=accepts,
        linger_s=linger_s,
    )


def start_analytics(
    bus: Bus,
    analytics: Analytics,
    stop: threading.Event,
    *,
    coalesce_s: float = 30.0,
    nice: int = 0,
) -> threading.Thread:
    """The consumer, and the flusher of the days it noted, as daemon threads ``nice``
    steps lower in CPU priority (:mod:`saveit.resilience.priority`); the returned
    thread ends after both have."""
    coalescing = Coalescing(analytics, coalesce_s)
    consuming = threading.Thread(
        target=consumer(
            bus, coalescing.handle, analytics, linger_s=min(LINGER_MAX_S, coalesce_s / 10)
        ).run,
        args=(stop,),
        name="saveit-analytics",
        daemon=True,
    )
    consuming.start()
    lower_priority(nice, consuming)

    def flush_until_stopped() -> None:
        coalescing.run(stop)
        consuming.join()
        coalescing.flush()  # what the consumer handled after the last flush

    thread = threading.Thread(target=flush_until_stopped, name="saveit-analytics-days", daemon=True)
    thread.start()
    lower_priority(nice, thread)
    return thread
