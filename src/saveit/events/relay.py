"""The outbox relay: copies committed outbox rows onto the bus, in id order, at least once.

Why a relay: publishing after commit loses the event when the process dies in
between; the booking transaction writes an outbox row instead, and this loop
publishes it afterwards, however long the bus is away.

One batch is one database transaction:

1. lock the oldest unpublished rows, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so
   a second relay never waits on, nor re-publishes, rows the first one holds;
2. check the batch *is* the oldest unpublished rows (the count of unpublished
   rows up to the batch's last id equals the batch size). If not, another
   relay holds older rows: roll back and let it go first, so the bus receives
   events in outbox order even with several relays running;
3. publish the batch (atomic on the bus), mark the rows ``published_at``, commit.

If the bus is unreachable the transaction rolls back: rows stay unpublished and
are retried, with exponential backoff, until the bus returns. If the commit
fails after a publish, the rows are published again later — at least once,
which is why consumers deduplicate by ``event_id``. Selecting on
``published_at IS NULL`` (not "id greater than the last one seen") means a row
whose transaction commits late, with an id below rows already published, is
still picked up: never skipped.

When to look: a commit that wrote events rings :meth:`OutboxRelay.wake` (the
doorbell, :mod:`saveit.events.doorbell`), in this process or through Redis from
another, and the loop drains at once; the poll interval is what a lost ring
costs. Rings that come while a drain runs coalesce into one more drain, and
drains are at least ``min_gap_s`` (25 ms) apart: under load every commit rings,
and a drain per commit meant a stream entry per transaction, which woke every
consumer group and every process's feed as often. On ``bench/webhooks.py`` a
10 ms gap let the worker answer guests later than with a 50 ms one (73 s
against 52 s after the run, on a noisy machine); 25 ms measured level with the
code before the doorbell (69–75 s against 71–75 s, interleaved runs), and keeps
``bench/realtime.py`` at p99 34 ms.

SQLite has one writer at a time (``BEGIN IMMEDIATE``), so relays there take
turns and the same code is correct; the publish then happens while holding the
write lock, which is fine for the in-process bus of the embedded mode.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from saveit.events.bus import Bus, BusUnavailable
from saveit.events.doorbell import HEARTBEAT_EVERY_S
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxRelay:
    def __init__(
        self,
        database: Database | DatabaseLike,
        bus: Bus,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 0.2,
        max_backoff_s: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
        caught_up: Callable[[], None] | None = None,
        min_gap_s: float = 0.025,
    ) -> None:
        """``caught_up``: called each time :meth:`run` has published everything
        committed (the Redis mark near caches trust, :mod:`saveit.events.doorbell`)."""
        self.db = database_of(database)
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self._rung = threading.Event()
        self.caught_up = caught_up
        self.min_gap_s = min_gap_s

    def wake(self) -> None:
        """Something committed events: :meth:`run` drains now instead of at its next poll.
        Safe from any thread, and cheap (it sets an event)."""
        self._rung.set()

    def publish_pending(self) -> int:
        """Publish everything unpublished now; returns how many rows this call published.

        A bus outage is logged and ends the call early (rows stay unpublished);
        it is not raised. Database errors are raised.
        """
        try:
            return self._drain(None)
        except BusUnavailable as exc:
            log.warning("outbox relay: bus unavailable, events stay in the outbox: %s", exc)
            return 0

    def run(self, stop: threading.Event) -> None:
        """Publish until ``stop`` is set, backing off exponentially while anything fails."""
        backoff = self.poll_interval_s
        last = float("-inf")
        while not stop.is_set():
            since = time.monotonic() - last
            if since < self.min_gap_s:
                stop.wait(self.min_gap_s - since)  # let a burst of rings fill one batch
            self._rung.clear()  # before the drain: a ring during it means one more
            last = time.monotonic()
            try:
                self._drain(stop)
            except BusUnavailable as exc:
                backoff = min(backoff * 2, self.max_backoff_s)
                log.warning("outbox relay: bus unavailable, retrying in %.1fs: %s", backoff, exc)
                stop.wait(backoff)
                continue
            except Exception:
                backoff = min(backoff * 2, self.max_backoff_s)
                log.exception("outbox relay: batch failed, retrying in %.1fs", backoff)
                stop.wait(backoff)
                continue
            backoff = self.poll_interval_s
            idle = self.poll_interval_s
            beat = self.caught_up  # read once: the runtime may unset it while stopping
            if beat is not None and not stop.is_set():
                beat()
                idle = min(idle, HEARTBEAT_EVERY_S)  # the mark must not lapse while idle
            self._rung.wait(idle)

    def _drain(self, stop: threading.Event | None) -> int:
        total = 0
        while stop is None or not stop.is_set():
            published = self.publish_batch()
            if published is None:  # another relay holds older rows: let it go first
                time.sleep(self.poll_interval_s * random.uniform(0.5, 1.5))  # noqa: S311
                continue
            total += published
            if published < self.batch_size:
                break
        return total

    def publish_batch(self) -> int | None:
        """One batch; the number of rows published, or None when another relay is ahead.

        Raises :class:`~saveit.events.bus.BusUnavailable` (after rolling back).
        """
        with self.db.unit_of_work() as uow:
            events = uow.outbox.lock_unpublished(self.batch_size)
            if not events:
                return 0
            last_id = events[-1].outbox_id
            if not uow.outbox.is_oldest(len(events), last_id):
                return None
            self.bus.publish(events)
            uow.outbox.mark_published([e.outbox_id for e in events], self.clock())
        log.debug("outbox relay: published %d events up to id %d", len(events), last_id)
        return len(events)
