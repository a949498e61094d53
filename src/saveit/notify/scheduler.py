"""Reminders and no-shows: what the clock makes happen.

Nothing is scheduled ahead of time. Every ``SAVEIT_SCHEDULER_INTERVAL_S`` the
scheduler asks the database what is due now, so a moved booking is simply
found at its new time, a cancelled or seated one is never found, and a restart
loses nothing. Doing a thing twice is harmless by construction: a reminder's
sent-record is keyed by offset and start (:mod:`saveit.notify.notifier`), and
a no-show is a version-checked status change that only one sweep wins. So any
number of ``saveit worker`` processes may run the scheduler at once.

Reminders: for each offset (default 24 h and 2 h), a confirmed booking whose
reminder time has come. One that was due before the booking was made (a table
booked for tonight gets no "see you tomorrow") or more than
``SAVEIT_REMINDER_CATCH_UP_MINUTES`` ago (the worker was down) is skipped.

No-shows: a confirmed booking not checked in ``no_show_grace_minutes`` after
its start (per restaurant, default 20) becomes ``no_show``: its tables free up
for walk-ins, the guest's no-show count goes up, the audit log and the event
stream record it, and the notifier tells the guest. A booking still ``pending``
is left alone: the restaurant never said yes, so the guest is not counted as
having failed to come (staff settle it).

Retention: at most once every ``RETENTION_EVERY`` the scheduler also runs the
message retention purge it was given (:mod:`saveit.privacy`), so old message
texts and raw provider payloads go without a separate cron job.
Partitions (PostgreSQL): every ``SAVEIT_PARTITION_CHECK_INTERVAL_S`` a tick also
runs :class:`saveit.store.partitions.PartitionKeeper`, which creates monthly
partitions ahead and drops those past retention.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from saveit.notify.notifier import Notifier
from saveit.observe import metrics
from saveit.store.partitions import PartitionKeeper
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger(__name__)

SWEEPER = Actor("system", "no-show sweep", "system")
_LOOKBACK = timedelta(days=1)  # no-shows older than this were someone's decision to keep
RETENTION_EVERY = timedelta(hours=1)


@dataclass
class Tick:
    reminders: int = 0
    no_shows: int = 0
    purged: int = 0
    holds_expired: int = 0
    surveys: int = 0
    partitions_created: int = 0
    partitions_dropped: int = 0


class Scheduler:
    def __init__(
        self,
        booking: BookingService,
        notifier: Notifier | None,
        *,
        offsets_minutes: Sequence[int] = (24 * 60, 120),
        catch_up_minutes: int = 60,
        clock: Callable[[], datetime],
        retention: Callable[[], int] | None = None,
        partitions: PartitionKeeper | None = None,
        database: Database | DatabaseLike | None = None,
        expire_holds: Callable[[], int] | None = None,
        send_surveys: Callable[[], int] | None = None,
    ) -> None:
        self.booking = booking
        self.db = database_of(database if database is not None else booking.engine)
        self.retention = retention
        self._purged_at: datetime | None = None
        self.partitions = partitions
        self.notifier = notifier
        self.offsets = tuple(offsets_minutes)
        self.catch_up = timedelta(minutes=catch_up_minutes)
        self.clock = clock
        # Cancels public bookings held for a code that never came
        # (``saveit.messaging.verification``).
        self.expire_holds = expire_holds
        # Asks guests how their visit went (``saveit.analytics.survey``).
        self.send_surveys = send_surveys

    def tick(self) -> Tick:
        done = Tick()
        done.no_shows = self.sweep_no_shows()
        metrics.scheduler_runs.labels("no_shows").inc()
        if self.expire_holds is not None:
            done.holds_expired = self.expire_holds()
        done.reminders = self.send_reminders()
        if self.send_surveys is not None:
            done.surveys = self.send_surveys()
        metrics.scheduler_runs.labels("reminders").inc()
        done.purged = self.purge_messages()
        self._keep_partitions(done)
        return done

    def purge_messages(self) -> int:
        now = self.clock()
        if self.retention is None or (
            self._purged_at is not None and now - self._purged_at < RETENTION_EVERY
        ):
            return 0
        purged = self.retention()
        self._purged_at = now
        return purged

    def _keep_partitions(self, done: Tick) -> None:
        """Months ahead created, months past retention dropped (PostgreSQL), at most
        every ``partition_check_interval_s``; a failure waits for the next interval
        and never holds up reminders or no-shows."""
        if self.partitions is None or not self.partitions.due(time.monotonic()):
            return
        try:
            run = self.partitions.run()
        except Exception:
            log.exception("scheduler: partition job failed")
            return
        done.partitions_created, done.partitions_dropped = len(run.created), len(run.dropped)

    def run(self, stop: threading.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # the database is away: try again next time
                log.exception("scheduler: tick failed")
            stop.wait(interval_s)

    # --- reminders --------------------------------------------------------------------------

    def send_reminders(self) -> int:
        if self.notifier is None:  # notifications are off
            return 0
        now = self.clock()
        sent = 0
        for offset in self.offsets:
            ahead = timedelta(minutes=offset)
            # due = start - offset, wanted in [now - catch_up, now]
            for view in self._between(now + ahead - self.catch_up, now + ahead, Status.CONFIRMED):
                if view.start <= now or view.start - ahead < view.created_at:
                    continue
                sent += self.notifier.remind(view, offset)
        return sent

    # --- no-shows ---------------------------------------------------------------------------

    def sweep_no_shows(self) -> int:
        now = self.clock()
        marked = 0
        for view in self._between(now - _LOOKBACK, now, Status.CONFIRMED):
            grace = self.booking.restaurant(view.restaurant).rules.no_show_grace_minutes
            if view.start + timedelta(minutes=grace) > now:
                continue
            try:
                self.booking.no_show(view.code, SWEEPER, expected_version=view.version)
            except (errors.Conflict, errors.InvalidTransition):
                continue  # checked in (or changed) meanwhile: the host was quicker
            marked += 1
        return marked

    def _between(
        self, after: datetime, until: datetime, *statuses: Status
    ) -> list[ReservationView]:
        with self.db.reading() as r:
            return r.reservations.starting_between([s.value for s in statuses], after, until)
