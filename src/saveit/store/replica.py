"""Reads that tolerate lag, sent to a PostgreSQL streaming replica while it keeps up.

Only reads whose answer may be a few seconds old come here — availability
(cache misses included: a booking re-checks everything at the write), the
day's reservation list and the live feed's snapshot, conversation lists,
future analytics. Everything that must see its own writes — the booking write
path and its pre-checks, idempotency replays, a booking read back after a
change, manage-token and staff-token checks, webhooks — keeps using
:func:`saveit.store.database.reading` on the primary.

The replica is used while it is healthy: reachable, and its replay no more
than ``max_lag_s`` behind, measured as ``now() - pg_last_xact_replay_timestamp()``
(zero when it has replayed everything it received: an idle primary sends
nothing, which is not lag). The measurement runs at most every
``check_interval_s`` seconds, by whichever request finds it due, and never
makes another request wait: the others use the last verdict. A replica that
fails a connection is marked down at once, so reads go back to the primary
until a later check finds it healthy again. A read already running on the
replica when it dies fails like any database error (the API answers 503); it
is not replayed on the primary, since its caller may already have used part of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from saveit.store.database import reading

log = logging.getLogger(__name__)

# Seconds the replica's replay is behind; 0 when it replayed all it received.
_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() IS NOT NULL "
    "AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)
_POSITION = text("SELECT CAST(pg_current_wal_lsn() AS text)")
_REPLAYED = text("SELECT COALESCE(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), false)")


class ReplicaReads:
    """The "replica-tolerant read" entry: :meth:`reading` gives a read-only connection
    on the replica when it is healthy, else on the primary."""

    def __init__(
        self,
        primary: Engine,
        replica: Engine | None,
        *,
        max_lag_s: float = 5.0,
        check_interval_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_s = max_lag_s
        self.check_interval_s = check_interval_s
        self.monotonic = monotonic
        self.lag_s: float | None = None  # last measurement; None: unreachable or unknown
        self._healthy = False
        self._checked_at: float | None = None
        self._checking = threading.Lock()

    # --- health ---------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Whether lag-tolerant reads go to the replica now (re-measured when due)."""
        if self.replica is None:
            return False
        now = self.monotonic()
        due = self._checked_at is None or now - self._checked_at >= self.check_interval_s
        if due and self._checking.acquire(blocking=False):
            try:
                self._check(now)
            finally:
                self._checking.release()
        return self._healthy

    def _check(self, now: float) -> None:
        assert self.replica is not None
        try:
            with self.replica.connect() as conn:
                lag = float(conn.execute(_LAG).scalar_one())
        except DBAPIError as exc:
            self._set(False, None, now, f"unreachable ({type(exc.orig).__name__})")
            return
        self._set(lag <= self.max_lag_s, lag, now, f"{lag:.1f} s behind")

    def _set(self, healthy: bool, lag: float | None, now: float, why: str) -> None:
        if healthy != self._healthy:
            if healthy:
                log.info("replica: reads go to the replica again (%s)", why)
            else:
                log.warning("replica: reads go to the primary: replica %s", why)
        self._healthy, self.lag_s, self._checked_at = healthy, lag, now

    def mark_down(self, why: str) -> None:
        """The replica failed a read: use the primary until the next check."""
        self._set(False, None, self.monotonic(), why)

    # --- reads ----------------------------------------------------------------------------

    def primary_position(self) -> str | None:
        """The primary's WAL position now (None without a replica): pass it to
        :meth:`reading` as ``caught_up_to`` for a read that must include everything
        committed before this call — the live feed's snapshot, which must hold every
        event up to the position it hands the client."""
        if self.replica is None:
            return None
        with reading(self.primary) as conn:
            return str(conn.execute(_POSITION).scalar_one())

    @contextmanager
    def reading(self, *, caught_up_to: str | None = None) -> Iterator[Connection]:
        """A read-only connection that may lag up to ``max_lag_s`` behind the primary;
        with ``caught_up_to`` (see :meth:`primary_position`), the replica only if it
        has replayed at least that far."""
        if self.replica is None or not self.healthy():
            with reading(self.primary) as conn:
                yield conn
            return
        with ExitStack() as stack:
            try:
                conn = stack.enter_context(reading(self.replica))
                behind = (
                    caught_up_to is not None
                    and not conn.execute(_REPLAYED, {"lsn": caught_up_to}).scalar_one()
                )
            except DBAPIError as exc:
                stack.close()
                self.mark_down(f"refused a connection ({type(exc.orig).__name__})")
                conn = stack.enter_context(reading(self.primary))
                yield conn
                return
            if behind:
                stack.close()
                conn = stack.enter_context(reading(self.primary))
                yield conn
                return
            try:
                yield conn
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    self.mark_down("lost a connection")
                raise

    def close(self) -> None:
        if self.replica is not None:
            self.replica.dispose()
