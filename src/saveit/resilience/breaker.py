"""A thread-safe circuit breaker: closed, open, half-open.

* **closed** — calls go through; ``failure_threshold`` failures in a row open it.
* **open** — calls are refused at once (no timeout paid) for ``reset_timeout_s``.
* **half-open** — after that, exactly one trial call goes through; success closes
  the breaker, failure opens it again for another ``reset_timeout_s``.

Why one trial and not all callers: when the dependency is still down, only one
request pays the timeout per period, whatever the load. A trial whose caller
never reports (a thread killed mid-call) is given up after ``reset_timeout_s``
so the breaker cannot stay half-open forever.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from saveit.observe import metrics

log = logging.getLogger(__name__)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout_s <= 0:
            raise ValueError("failure_threshold >= 1 and reset_timeout_s > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started: float | None = None
        self.opened_count = 0  # how many times it opened (metrics, tests)

    @property
    def state(self) -> BreakerState:
        """The state as a caller would find it now (open turns half-open once due)."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._due():
                return BreakerState.HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """May a call go through now? In half-open, True for the one trial only."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            now = self._clock()
            if self._state is BreakerState.OPEN:
                if not self._due():
                    return False
                self._state = BreakerState.HALF_OPEN
                self._trial_started = now
                return True
            # half-open: one trial at a time; an abandoned trial is replaced
            if self._trial_started is None or now - self._trial_started >= self.reset_timeout_s:
                self._trial_started = now
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            was = self._state
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_started = None
        if was is not BreakerState.CLOSED:
            metrics.circuit_breaker_open.labels(self.name).set(0)
            log.warning("circuit %s closed: the dependency answers again", self.name)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            opens = self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
            )
            if opens:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
                self._trial_started = None
                self.opened_count += 1
        if opens:
            metrics.circuit_breaker_open.labels(self.name).set(1)
            log.warning(
                "circuit %s open for %.1fs after %d failure(s)",
                self.name,
                self.reset_timeout_s,
                self._failures,
            )

    def _due(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_timeout_s
