"""Refused booking attempts, written a moment later and many at a time.

A refusal used to cost its own transaction on the request path: the day's
lock, the fact row and the counter, three statements and a commit for a 409.
On the booking bench that was a sixth of a refused create's CPU, and every
concurrent refusal of the same day queued on that one lock. The engine's
listener now only appends to a list; a thread writes what gathered every
``period_s`` in one transaction: each (restaurant, day) locked once, in sorted
order (two processes' batches take their locks in the same order and cannot
deadlock), the fact rows in one statement, one bump per counter.

What it costs: a refusal reaches the counters up to ``period_s`` later, and a
process that dies without closing (SIGKILL, power) loses the refusals it had
not written yet, at most a period's worth. Closing the container writes them,
and a report in the same process writes them first, so a process's own
refusals are always in its figures. A refusal is nobody's booking: losing one
moves a success rate, never a table.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from datetime import datetime

from saveit.domain.analytics import ATTEMPTS, Counter, RefusalFact
from saveit.store.unit_of_work import Database

log = logging.getLogger(__name__)


class RefusalLog:
    """One per process; thread-safe. The writing thread starts with the first refusal."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        period_s: float = 0.2,
        max_pending: int = 10_000,
    ) -> None:
        self._db = db
        self._clock = clock
        self._period_s = period_s
        self._max_pending = max_pending
        self._pending: list[RefusalFact] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._writing = threading.Lock()  # one batch at a time: the thread's or a flush()'s
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, refusal: RefusalFact) -> None:
        with self._lock:
            if self._closed:  # the process is going: write it now rather than never
                self._pending.append(refusal)
            elif len(self._pending) >= self._max_pending:
                log.warning(
                    "analytics: %d refusals waiting to be written; one dropped", len(self._pending)
                )
                return
            else:
                self._pending.append(refusal)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="saveit-refusals", daemon=True
                    )
                    self._thread.start()
                self._arrived.notify()
                return
        self.flush()

    def flush(self) -> int:
        """Write every refusal gathered so far; how many were written."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception:
                log.exception("analytics: writing %d refused bookings failed", len(batch))
                with self._lock:  # tried again at the next period
                    room = self._max_pending - len(self._pending)
                    self._pending[:0] = batch[:room]
                return 0
            return len(batch)

    def close(self) -> None:
        """Stop the thread and write what is left (the container's close)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._arrived.notify()
        if thread is not None:
            thread.join(timeout=5.0)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._arrived.wait()
                if self._closed:
                    return
                # Let the period's refusals gather behind the first one.
                self._arrived.wait_for(lambda: self._closed, timeout=self._period_s)
                if self._closed:
                    return
            self.flush()

    def _write(self, batch: Sequence[RefusalFact]) -> None:
        days = sorted({(r.restaurant_id, r.day) for r in batch})
        counts = Tally((r.restaurant_id, r.day, r.channel) for r in batch)
        now = self._clock()
        with self._db.unit_of_work() as uow:
            repo = uow.analytics
            for restaurant_id, day in days:
                repo.lock_day(restaurant_id, day, ATTEMPTS, now)
            repo.record_refusals(batch)
            for (restaurant_id, day, channel), n in sorted(counts.items()):
                repo.bump(
                    Counter(day, ATTEMPTS, "attempts", "", channel, "refused", n), restaurant_id
                )
