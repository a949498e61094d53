"""Offering a freed seat: the hold that keeps it for a waiting guest, and the answer.

A hold is a ``reservations`` row with status ``held`` that claims its tables like
any booking, so nobody else can take the seat while the guest decides; accepting
flips its status in place, declining or expiring releases its claims.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from saveit.booking import codes
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.availability import Occupancy, bookable_starts, cells, end_of
from saveit.domain.commands import Actor
from saveit.domain.model import Restaurant, Seating, Status
from saveit.domain.reservation import status_for_new
from saveit.domain.views import ReservationView
from saveit.store.reservations import ReservationRepository
from saveit.store.waitlist import EntryView
from saveit.waitlist.records import SYSTEM, audit, record_hold

log = logging.getLogger(__name__)

MIN_HOLD = timedelta(minutes=2)


class _Gone(Exception):
    """The entry or its seat changed under us: step back, nothing written."""


class Offers:
    def __init__(
        self,
        booking: BookingService,
        *,
        hold: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.booking = booking
        self.db = booking.db
        self.hold = hold
        self.clock = clock

    def offer(self, restaurant_id: int, day: date) -> list[EntryView]:
        """Hold a seat for each waiting entry of the day that now fits, first joined
        first; returns the entries now holding an offer. Cheap when nobody waits."""
        with self.db.reading() as r:
            if not r.waitlist.has_waiting(restaurant_id, day):
                return []
            restaurant = self.booking.cache.get_by_id(r, restaurant_id)
            waiting = r.waitlist.of_day(restaurant_id, day, ["waiting"])
        # One reading of the day's bookings for the whole queue, read again only
        # after a hold: read per entry, a pass that began before a cancellation
        # committed found no seat for the first guest and then, reading again,
        # found the freed seat for the second, so the seat skipped the queue. With
        # one reading, a pass either sees the seat for everyone, first joined
        # first, or for nobody (and the next pass offers it in order).
        offered: list[EntryView] = []
        booked: Occupancy | None = None
        for entry in waiting:
            if booked is None:
                _, booked = self.booking.day_occupancy(restaurant.slug, day)
            held = self._try_hold(restaurant, entry, booked)
            if held is not None:
                offered.append(held)
                booked = None  # the hold took a seat
        return offered

    def _try_hold(
        self, restaurant: Restaurant, entry: EntryView, booked: Occupancy
    ) -> EntryView | None:
        now = self.clock()
        if entry.latest < now:
            return None  # the sweep closes it
        slots = [
            s
            for s in bookable_starts(
                restaurant, entry.day, entry.party_size, now, booked, area=entry.area
            )
            if entry.earliest <= s.start <= entry.latest
        ]
        if not slots:
            return None
        middle = entry.earliest + (entry.latest - entry.earliest) / 2
        slots.sort(key=lambda s: (abs(s.start - middle), s.start))
        for slot in slots[:3]:  # a racing booking may take one: try the next few
            try:
                return self._hold(restaurant, entry, slot.start, [slot.seating], now)
            except _Gone:
                continue
        return None

    def _expiry(self, start: datetime, now: datetime) -> datetime:
        """``hold_minutes``, or a quarter of the time left before the start when that
        is shorter (two minutes at least): a guest offered 21:00 at 20:40 must
        answer quickly for the seat to reach someone else in time."""
        hold = min(self.hold, max(MIN_HOLD, (start - now) / 4))
        return now + hold

    def _hold(
        self,
        restaurant: Restaurant,
        entry: EntryView,
        start: datetime,
        candidates: list[Seating],
        now: datetime,
    ) -> EntryView:
        end = end_of(restaurant, start, entry.party_size)
        buffer = restaurant.rules.buffer_minutes
        expires = self._expiry(start, now)
        with self.db.unit_of_work() as uow:
            # The entry first: of two workers offering at once, one moves it.
            if not uow.waitlist.move(
                entry.id,
                from_status="waiting",
                version=entry.version,
                values={
                    "status": "offered",
                    "hold_expires_at": expires,
                    "offers": entry.offers + 1,
                    "updated_at": now,
                },
            ):
                raise _Gone
            hold_id, hold_code = self._insert_hold(
                uow.reservations, restaurant, entry, start, end, buffer, now
            )
            seating = None
            for option in candidates:
                if uow.reservations.claim(hold_id, option.table_ids, cells(start, end, buffer)):
                    seating = option
                    break
            if seating is None or not uow.reservations.add_covers(
                restaurant.id,
                start,
                entry.party_size,
                restaurant.rules.pacing_covers_per_slot,
            ):
                raise _Gone
            uow.waitlist.move(
                entry.id,
                from_status="offered",
                values={"hold_id": hold_id},
            )
            hold = uow.reservations.view_by_id(hold_id)
            record_hold(uow, hold, None, "held", SYSTEM, now, entry)
            held = uow.waitlist.by_id(entry.id)
            audit(uow, held, "offered", SYSTEM, now)
        log.info("waitlist: held %s at %s for entry %s", hold_code, start.isoformat(), entry.code)
        return held

    def _insert_hold(
        self,
        reservations: ReservationRepository,
        restaurant: Restaurant,
        entry: EntryView,
        start: datetime,
        end: datetime,
        buffer: int,
        now: datetime,
    ) -> tuple[int, str]:
        for _attempt in range(5):
            code = codes.new_code()
            found = reservations.insert_reservation(
                {
                    "code": code,
                    "restaurant_id": restaurant.id,
                    "guest_id": entry.guest_id,
                    "party_size": entry.party_size,
                    "start_at": start,
                    "end_at": end,
                    "buffer_minutes": buffer,
                    "status": Status.HELD.value,
                    "source": entry.channel,
                    "notes": entry.notes,
                    "area_preference": entry.area,
                    "created_by": SYSTEM.label,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
            if found is not None:
                return found, code
        raise RuntimeError("could not draw a free reservation code")

    # --- answering an offer ----------------------------------------------------------------

    def accept(self, entry: EntryView, actor: Actor) -> ReservationView:
        """The hold becomes the guest's confirmed booking (pending for a guest past
        the no-show limit, as any booking of theirs), in one transaction."""
        now = self.clock()
        if entry.status == "booked" and entry.reservation_code:
            return self.booking.get(entry.reservation_code)  # a second tap
        if entry.status != "offered" or entry.hold_id is None:
            raise errors.OfferGone("This offer is no longer open", status=entry.status)
        if entry.hold_expires_at is not None and entry.hold_expires_at <= now:
            raise errors.OfferGone("This offer has expired", status="expired")
        hold_id = entry.hold_id
        with self.db.unit_of_work() as uow:
            before = uow.reservations.view_by_id(hold_id)
            status = self._status_for(before, actor)
            if not uow.waitlist.move(
                entry.id,
                from_status="offered",
                hold_id=hold_id,
                live_at=now,
                values={
                    "status": "booked",
                    "reservation_id": hold_id,
                    "hold_id": None,
                    "hold_expires_at": None,
                    "updated_at": now,
                },
            ) or not uow.waitlist.set_hold_status(hold_id, status.value, now):
                raise errors.OfferGone("This offer is no longer open")
            booked = uow.reservations.view_by_id(hold_id)
            record_hold(uow, booked, before, "created", actor, now, entry)
            audit(uow, uow.waitlist.by_id(entry.id), "accepted", actor, now)
        self._changed(booked)
        return booked

    def _status_for(self, hold: ReservationView, actor: Actor) -> Status:
        """As a booking's (the no-show policy): confirmed, or pending for staff."""
        rules = self.booking.restaurant(hold.restaurant).rules
        return status_for_new(rules, Status.CONFIRMED, hold.guest, actor)

    def decline(self, entry: EntryView, actor: Actor) -> EntryView:
        if entry.status != "offered":
            raise errors.OfferGone("This offer is no longer open", status=entry.status)
        return self.release(entry, "declined", actor)

    def release(
        self, entry: EntryView, outcome: str, actor: Actor, *, due: datetime | None = None
    ) -> EntryView:
        """Give the held seat back (declined, expired, left or closed): the entry and
        the hold in one transaction, then ``reservation.released`` offers it on."""
        now = self.clock()
        hold_id = entry.hold_id
        with self.db.unit_of_work() as uow:
            moved = uow.waitlist.move(
                entry.id,
                from_status="offered",
                hold_id=hold_id,
                expires_by=due,
                values={
                    "status": outcome,
                    "hold_id": None,
                    "hold_expires_at": None,
                    "updated_at": now,
                },
            )
            if not moved:
                raise errors.OfferGone("This offer is no longer open")
            released = None
            if hold_id is not None:
                before = uow.reservations.view_by_id(hold_id)
                if uow.waitlist.set_hold_status(hold_id, Status.RELEASED.value, now):
                    uow.reservations.release(hold_id, forget_tables=False)
                    released = uow.reservations.view_by_id(hold_id)
                    record_hold(uow, released, before, "released", actor, now, entry)
                    uow.reservations.add_covers(
                        entry.restaurant_id, before.start, -before.party_size, None
                    )
            after = uow.waitlist.by_id(entry.id)
            audit(uow, after, outcome, actor, now)
        if released is not None:
            self._changed(released)
        return after

    def _changed(self, view: ReservationView) -> None:
        """The booking service's after-commit listeners (the availability cache in
        this process); other processes hear the event."""
        for listener in self.booking.listeners:
            try:
                listener(view, None)
            except Exception:
                log.exception("change listener failed for hold %s", view.code)
