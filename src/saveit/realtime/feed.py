"""The live feed thread: read the primary source, fall back to the outbox, come back.

One thread per API process, because both sources are blocking clients (redis-py,
SQLAlchemy) and the event loop must never wait on them. Events go to
``deliver`` (the hub), deduplicated by outbox id, so the relay's at-least-once
publishing and the overlap at a source switch never show a client an event twice.

Switching:

* primary -> database when a read raises ``BusUnavailable``. The poller starts
  ``LOOKBACK`` ids below the highest id delivered (never below the head at
  start), so events the relay had published but this tail had not read yet
  are not lost; duplicates are dropped.
* database -> primary every ``retry_s``: ``connect`` the primary (which fixes
  its resume point: the last entry read, or the stream's current end), *then*
  poll the outbox once more. Anything committed before that poll came from the
  database; anything after is published to the stream after the resume point.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from saveit.domain.events import Event
from saveit.events.bus import BusUnavailable
from saveit.realtime.sources import OutboxPoller, RecentIds, Source

log = logging.getLogger(__name__)

LOOKBACK = 200


class Feed:
    def __init__(
        self,
        primary: Source | None,
        poller: OutboxPoller,
        deliver: Callable[[list[Event]], None],
        *,
        poll_interval_s: float = 0.15,
        retry_s: float = 1.0,
        block_ms: int = 500,
    ) -> None:
        self.primary = primary
        self.poller = poller
        self.deliver = deliver
        self.poll_interval_s = poll_interval_s
        self.retry_s = retry_s
        self.block_ms = block_ms
        self.mode = "starting"
        self._seen = RecentIds()
        self._base = 0
        self._next_retry = 0.0

    # --- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        if not self._start(stop):
            return
        while not stop.is_set():
            try:
                if self.primary is not None and self.mode == self.primary.name:
                    self._primary_step()
                else:
                    self._database_step(stop)
            except Exception:
                log.exception("live feed: step failed in %s mode; retrying", self.mode)
                stop.wait(min(self.retry_s, 1.0))
        if self.primary is not None:
            self.primary.close()

    def _start(self, stop: threading.Event) -> bool:
        """Fix the starting point: the outbox head now; history is for catch-up, not the feed."""
        while not stop.is_set():
            try:
                self._base = self.poller.head()
                break
            except Exception as exc:
                log.warning("live feed: database unreachable at start, retrying: %s", exc)
                stop.wait(self.retry_s)
        else:
            return False
        self.poller.reset(self._base)
        self._seen.highest = self._base
        if self.primary is None:
            self.mode = self.poller.name
            return True
        try:
            self.primary.connect()
            self.mode = self.primary.name
        except BusUnavailable as exc:
            self._fall_back(exc)
        return True

    def _primary_step(self) -> None:
        assert self.primary is not None
        try:
            events = self.primary.read(self.block_ms)
        except BusUnavailable as exc:
            self._fall_back(exc)
            return
        self._emit(events)

    def _database_step(self, stop: threading.Event) -> None:
        self._emit(self.poller.poll())
        if self.primary is not None and time.monotonic() >= self._next_retry:
            self._next_retry = time.monotonic() + self.retry_s
            try:
                self.primary.connect()
            except BusUnavailable:
                pass
            else:
                self._emit(self.poller.poll())  # the last database read before the switch
                self.mode = self.primary.name
                log.warning("live feed: %s is back; leaving the database path", self.mode)
                return
        stop.wait(self.poll_interval_s)

    def _fall_back(self, exc: Exception) -> None:
        self.poller.reset(max(self._base, self._seen.highest - LOOKBACK))
        self.mode = self.poller.name
        self._next_retry = time.monotonic() + self.retry_s
        log.warning("live feed: primary source unavailable, polling the outbox: %s", exc)

    def _emit(self, events: list[Event]) -> None:
        fresh = [e for e in events if e.outbox_id > self._base and self._seen.add(e.outbox_id)]
        if fresh:
            self.deliver(fresh)
