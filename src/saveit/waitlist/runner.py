"""The waitlist in the worker: offers follow freed capacity, holds expire on time.

The ``waitlist`` consumer group hears the events that free capacity (a
cancellation, a no-show, a move or a smaller party, a completed stay, a hold
released) and offers the seat to the day's first waiting entry that fits; it
hears ``reservation.held`` and queues the offer to the guest (once per hold:
the notifications' sent-record key is the hold's id); and it hears bookings,
which close the same guest's entries for that day. None of this runs inside a
booking's transaction: a day nobody waits on costs one indexed probe here, and a
batch of bookings one statement (``prepare``: nearly no guest who books waits).

The sweep runs every ``SAVEIT_WAITLIST_SWEEP_S`` in every worker: it expires
holds whose time is up (so a worker that died mid-offer never leaves a seat
stuck), closes entries whose window has passed, and offers again on each day
someone waits, which is how capacity from a table, service or special-date
change reaches the list.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from saveit.domain import errors, events
from saveit.domain.model import Restaurant, Status
from saveit.domain.schedule import day_of
from saveit.domain.views import ReservationView
from saveit.events.bus import Bus
from saveit.events.consumer import Consumer
from saveit.events.processed import SqlProcessedStore
from saveit.notify.notices import Notice
from saveit.notify.notifier import Notifier
from saveit.resilience.priority import lower_priority
from saveit.waitlist.service import Waitlist

log = logging.getLogger(__name__)

GROUP = "waitlist"
# Between batches that were not full, the consumer waits this long for more
# (saveit.events.consumer): an offer or a release a quarter of a second later is
# nothing to a waiting guest, and a booking burst is read in a few batches a
# second instead of forty.
LINGER_S = 0.25
RESERVATION_HELD = "reservation.held"
RESERVATION_RELEASED = "reservation.released"
FREEING = frozenset(
    {
        events.RESERVATION_CANCELLED,
        events.RESERVATION_NO_SHOW,
        events.RESERVATION_MODIFIED,
        events.RESERVATION_COMPLETED,
        RESERVATION_RELEASED,
    }
)
BOOKING = frozenset({events.RESERVATION_CREATED, events.RESERVATION_WALK_IN})
HANDLED = FREEING | BOOKING | {RESERVATION_HELD}


class WaitlistHandler:
    """The consumer's handler (see the module's docstring)."""

    def __init__(self, waitlist: Waitlist, notifier: Notifier | None) -> None:
        self.waitlist = waitlist
        self.notifier = notifier
        # event id -> whether its guest held an open entry when its batch was read
        self._waiting: dict[str, bool] = {}

    def prepare(self, batch: Sequence[events.Event]) -> None:
        """Which of the batch's bookings are by a guest who waits, in one read.

        Per booking this was a read of the guest's entries: a fifth of the worker's
        interpreter time under a booking burst (``bench/booking.py``, py-spy). A
        guest who joins a list between this read and their booking's turn in the
        batch (milliseconds) is missed as they were missed by a read made just
        before their join; the sweep closes such entries when their window passes.
        """
        asked = {
            event.event_id: (event.restaurant_id, guest_id)
            for event in batch
            if (guest_id := _booking_guest(event)) is not None
        }
        if len(self._waiting) > 10_000:  # events prepared but never handled (a crash)
            self._waiting.clear()
        if asked:
            waiting = self.waitlist.guests_waiting(set(asked.values()))
            self._waiting.update({eid: pair in waiting for eid, pair in asked.items()})

    @staticmethod
    def accepts(event_type: str) -> bool:
        return event_type in HANDLED

    def handle(self, event: events.Event) -> None:
        shown = event.payload.get("reservation")
        if not isinstance(shown, Mapping):
            return
        if event.type == RESERVATION_HELD:
            self._send_offer(str(shown["code"]))
            return
        if event.type in BOOKING:
            guest_id = _booking_guest(event)
            if guest_id is not None and self._waiting.pop(event.event_id, True):
                self.waitlist.booked_elsewhere(
                    event.restaurant_id, guest_id, _start(shown), str(shown["code"])
                )
            return
        restaurant = self._restaurant(event.restaurant_id)
        days = {_day(restaurant, shown)}
        before = event.payload.get("before")
        if isinstance(before, Mapping):
            days.add(_day(restaurant, before))
        for day in sorted(days):
            self.waitlist.offer(restaurant.id, day)

    def _restaurant(self, restaurant_id: int) -> Restaurant:
        with self.waitlist.db.reading() as r:
            return self.waitlist.booking.cache.get_by_id(r, restaurant_id)

    def _send_offer(self, hold_code: str) -> None:
        """Queue the offer on the guest's channels, once per hold (the sent-record),
        unless it was answered or expired before this event came round."""
        if self.notifier is None:
            return
        try:
            hold: ReservationView = self.waitlist.booking.get(hold_code)
            entry = self.waitlist.by_hold(hold_code)
        except (errors.NotFound, errors.OfferGone):
            return
        if hold.status is not Status.HELD or entry.hold_expires_at is None:
            return
        restaurant = self.waitlist.booking.restaurant(hold.restaurant)
        until = entry.hold_expires_at.astimezone(restaurant.tz)
        self.notifier.notify(
            hold, Notice("waitlist_offer", "waitlist_offer", reason=until.strftime("%H:%M"))
        )


def _booking_guest(event: events.Event) -> int | None:
    """The guest of a booking made other than from this guest's own offer."""
    shown = event.payload.get("reservation")
    if event.type not in BOOKING or not isinstance(shown, Mapping):
        return None
    guest_id = shown.get("guest_id")
    if guest_id is None or "waitlist_entry" in event.payload:
        return None
    return int(guest_id)


def _start(shown: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(shown["start"]))


def _day(restaurant: Restaurant, shown: Mapping[str, Any]) -> date:
    return day_of(restaurant, _start(shown))


@dataclass
class WaitlistThreads:
    consumer: Consumer
    threads: list[threading.Thread] = field(default_factory=list)

    def join(self, timeout: float = 10.0) -> None:
        for thread in self.threads:
            thread.join(timeout)


def _sweep(waitlist: Waitlist, stop: threading.Event, interval_s: float) -> None:
    while not stop.is_set():
        try:
            waitlist.sweep()
        except Exception:  # the database is away: try again next time
            log.exception("waitlist: sweep failed")
        stop.wait(interval_s)


def start_waitlist(
    bus: Bus,
    waitlist: Waitlist,
    notifier: Notifier | None,
    stop: threading.Event,
    *,
    interval_s: float,
    nice: int = 0,
) -> WaitlistThreads:
    """The ``waitlist`` consumer and the sweep, as daemon threads ``nice`` steps lower
    in CPU priority (:mod:`saveit.resilience.priority`)."""
    handler = WaitlistHandler(waitlist, notifier)
    consumer = Consumer(
        bus,
        GROUP,
        handler.handle,
        processed=SqlProcessedStore(waitlist.db),
        accepts=handler.accepts,
        prepare=handler.prepare,
        linger_s=LINGER_S,
    )
    running = WaitlistThreads(consumer)
    for name, target, args in (
        ("saveit-waitlist", consumer.run, (stop,)),
        ("saveit-waitlist-sweep", _sweep, (waitlist, stop, interval_s)),
    ):
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        lower_priority(nice, thread)
        running.threads.append(thread)
    return running
