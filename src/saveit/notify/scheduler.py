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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from saveit.booking.commands import Actor
from saveit.booking.service import BookingService
from saveit.booking.views import ReservationView
from saveit.domain import errors
from saveit.domain.model import Status
from saveit.notify.notifier import Notifier
from saveit.observe import metrics
from saveit.store import reservations as reservation_store
from saveit.store.database import reading

log = logging.getLogger(__name__)

SWEEPER = Actor("system", "no-show sweep", "system")
_LOOKBACK = timedelta(days=1)  # no-shows older than this were someone's decision to keep


@dataclass
class Tick:
    reminders: int = 0
    no_shows: int = 0


class Scheduler:
    def __init__(
        self,
        booking: BookingService,
        notifier: Notifier | None,
        *,
        offsets_minutes: Sequence[int] = (24 * 60, 120),
        catch_up_minutes: int = 60,
        clock: Callable[[], datetime],
    ) -> None:
        self.booking = booking
        self.notifier = notifier
        self.offsets = tuple(offsets_minutes)
        self.catch_up = timedelta(minutes=catch_up_minutes)
        self.clock = clock

    def tick(self) -> Tick:
        done = Tick()
        done.no_shows = self.sweep_no_shows()
        metrics.scheduler_runs.labels("no_shows").inc()
        done.reminders = self.send_reminders()
        metrics.scheduler_runs.labels("reminders").inc()
        return done

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
        with reading(self.booking.engine) as conn:
            return reservation_store.starting_between(
                conn, [s.value for s in statuses], after, until
            )
