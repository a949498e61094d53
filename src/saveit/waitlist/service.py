"""The waitlist: guests waiting for a full time, and the seats held for their offers.

A guest refused as full joins the list for a day with a window of starts.
When capacity frees up (the worker hears it from the event stream, see
:mod:`saveit.waitlist.runner`) the first waiting entry that now fits, in the
order they joined, gets a *hold*: a ``reservations`` row with status ``held``
that claims its tables through the very unique index that forbids double
bookings. So a held seat can never be booked by anyone else meanwhile, and a
seat can never be held twice, whatever the number of workers. The hold is
offered to the guest (the notifier queues it once per hold, under the
notifications' sent-record key) and expires after ``hold_minutes`` (less when
the start is near).

Accepting turns the hold into a confirmed booking in one transaction: the
status flips, the claims stay where they are, and the ordinary
``reservation.created`` event brings the confirmation and its QR. Declining or
expiring releases the claims and emits ``reservation.released``, which makes
the worker offer the seat to the next entry. Each move of an entry is a
conditional update on its status (see :mod:`saveit.store.waitlist`), so an
accept racing the expiry sweep, or two workers offering at once, settle on
exactly one outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from saveit.booking import codes
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.availability import check_rules, seatings
from saveit.domain.commands import Actor, GuestDetails
from saveit.domain.schedule import day_of
from saveit.domain.views import ReservationView
from saveit.store import guests as guest_store
from saveit.store.waitlist import EntryView
from saveit.waitlist.offers import Offers
from saveit.waitlist.records import SYSTEM, audit

__all__ = ["SYSTEM", "JoinRequest", "Waitlist"]


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A place on a day's list: ``start`` is the time asked for; the window
    defaults to ``window_minutes`` either side of it."""

    restaurant: str  # slug
    start: datetime
    party_size: int
    earliest: datetime | None = None
    latest: datetime | None = None
    area: str | None = None
    guest: GuestDetails = field(default_factory=GuestDetails)
    guest_id: int | None = None  # a chat's guest
    notes: str = ""


class Waitlist:
    def __init__(
        self,
        booking: BookingService,
        *,
        hold_minutes: int = 15,
        window_minutes: int = 60,
        clock: Callable[[], datetime] | None = None,
        phone_region: str = "ES",
    ) -> None:
        self.phone_region = phone_region
        self.booking = booking
        self.db = booking.db
        self.engine = booking.engine  # for callers that still read with the engine
        self.hold = timedelta(minutes=hold_minutes)
        self.window = timedelta(minutes=window_minutes)
        self.clock = clock or booking.clock
        self._offers = Offers(booking, hold=self.hold, clock=self.clock)

    # --- tokens ------------------------------------------------------------------------

    def manage_token(self, code: str) -> str:
        """The guest's key to their entry (an HMAC: nothing stored), distinct from
        any booking's token even if the codes were ever equal."""
        return self.booking.manage_token(f"waitlist:{code}")

    def verify_manage_token(self, code: str, token: str) -> bool:
        return self.booking.verify_manage_token(f"waitlist:{code}", token)

    # --- reading -----------------------------------------------------------------------

    def get(self, code: str) -> EntryView:
        with self.db.reading() as r:
            found = r.waitlist.by_code(code)
        if found is None:
            raise errors.NotFound("No such waitlist entry", code=code)
        return found

    def by_hold(self, hold_code: str) -> EntryView:
        with self.db.reading() as r:
            found = r.waitlist.by_hold(hold_code)
        if found is None:
            raise errors.OfferGone("This offer is no longer open")
        return found

    def list_day(self, slug: str, day: date) -> list[EntryView]:
        with self.db.reading() as r:
            restaurant = self.booking.cache.get(r, slug)
            return r.waitlist.of_day(restaurant.id, day)

    def of_guest(self, slug: str, guest_id: int) -> list[EntryView]:
        with self.db.reading() as r:
            restaurant = self.booking.cache.get(r, slug)
            return r.waitlist.of_guest(restaurant.id, guest_id)

    def outcomes(self, slug: str, since: datetime, until: datetime) -> dict[str, int]:
        with self.db.reading() as r:
            restaurant = self.booking.cache.get(r, slug)
            return r.waitlist.outcomes(restaurant.id, since, until)

    # --- joining, changing, leaving ------------------------------------------------------

    def join(self, req: JoinRequest, actor: Actor, channel: str) -> EntryView:
        now = self.clock()
        if req.start.tzinfo is None:
            raise errors.ValidationFailed("start must carry a UTC offset", field="start")
        if not 1 <= req.party_size <= 1000:
            raise errors.ValidationFailed("party_size must be between 1 and 1000")
        start = req.start.astimezone(UTC)
        restaurant = self.booking.restaurant(req.restaurant)
        earliest, latest = self._window(start, req.earliest, req.latest)
        day = day_of(restaurant, start)
        if latest <= now:
            raise errors.ValidationFailed("That time has passed", field="start")
        # The rules of a booking at that time (open, lead time, days ahead, party):
        # waiting is only for a time the guest could have booked had it been free.
        check_rules(restaurant, start, req.party_size, now, staff=actor.is_staff)
        if not seatings(restaurant, req.party_size, req.area):
            raise errors.NoSuitableTable("No table seats that party", party_size=req.party_size)
        guest = req.guest
        if guest.phone:
            guest = replace(
                guest, phone=guest_store.normalise_phone(guest.phone, self.phone_region)
            )
        if guest.email:
            guest = replace(guest, email=guest_store.normalise_email(guest.email))
        with self.db.unit_of_work() as uow:
            found = (
                uow.guests.known(restaurant.id, req.guest_id, guest, now)
                if req.guest_id is not None
                else uow.guests.find_or_create(restaurant.id, guest, now)
            )
            if found is None:
                raise errors.ValidationFailed(
                    "A phone or an email is needed to tell you when a table frees up",
                    field="guest",
                )
            entry_id = uow.waitlist.insert_entry(
                {
                    "code": codes.new_code(),
                    "restaurant_id": restaurant.id,
                    "guest_id": found.id,
                    "day": day,
                    "earliest": earliest,
                    "latest": latest,
                    "party_size": req.party_size,
                    "area": req.area,
                    "channel": channel,
                    "status": "waiting",
                    "offers": 0,
                    "notes": req.notes,
                    "created_by": actor.label,
                    "joined_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
            entry = uow.waitlist.by_id(entry_id)
            audit(uow, entry, "joined", actor, now)
        return entry

    def _window(
        self, start: datetime, earliest: datetime | None, latest: datetime | None
    ) -> tuple[datetime, datetime]:
        lo = earliest.astimezone(UTC) if earliest else start - self.window
        hi = latest.astimezone(UTC) if latest else start + self.window
        if (earliest and earliest.tzinfo is None) or (latest and latest.tzinfo is None):
            raise errors.ValidationFailed("earliest and latest must carry a UTC offset")
        if lo > hi:
            raise errors.ValidationFailed("earliest is after latest", field="earliest")
        if hi - lo > timedelta(hours=12):
            raise errors.ValidationFailed("A window is 12 hours at most", field="latest")
        return lo, hi

    def change(
        self,
        code: str,
        actor: Actor,
        *,
        earliest: datetime | None = None,
        latest: datetime | None = None,
        party_size: int | None = None,
        area: str | None = None,
        expected_version: int | None = None,
    ) -> EntryView:
        """A waiting entry's window, party or area; an entry holding an offer answers
        it first."""
        now = self.clock()
        entry = self.get(code)
        if expected_version is not None and expected_version != entry.version:
            raise errors.Conflict("The entry changed since you read it", version=entry.version)
        if entry.status != "waiting":
            raise errors.InvalidTransition(
                f"A {entry.status} entry cannot be changed", status=entry.status
            )
        lo = earliest.astimezone(UTC) if earliest else entry.earliest
        hi = latest.astimezone(UTC) if latest else entry.latest
        self._window(lo, lo, hi)
        party = party_size if party_size is not None else entry.party_size
        if not 1 <= party <= 1000:
            raise errors.ValidationFailed("party_size must be between 1 and 1000")
        values: dict[str, Any] = {
            "earliest": lo,
            "latest": hi,
            "party_size": party,
            "area": area if area is not None else entry.area,
            "updated_at": now,
        }
        with self.db.unit_of_work() as uow:
            if not uow.waitlist.move(
                entry.id, from_status="waiting", values=values, version=entry.version
            ):
                raise errors.Conflict("The entry changed while we were updating it")
            changed = uow.waitlist.by_id(entry.id)
            audit(uow, changed, "changed", actor, now, before=entry)
        return changed

    def leave(self, code: str, actor: Actor) -> EntryView:
        """Off the list; an open offer's seat is released for the next guest."""
        entry = self.get(code)
        if entry.status == "offered":
            return self._offers.release(entry, "left", actor)
        if entry.status != "waiting":
            return entry  # already off the list: leaving twice is harmless
        now = self.clock()
        with self.db.unit_of_work() as uow:
            if not uow.waitlist.move(
                entry.id, from_status="waiting", values={"status": "left", "updated_at": now}
            ):
                raise errors.Conflict("The entry changed while we were updating it")
            left = uow.waitlist.by_id(entry.id)
            audit(uow, left, "left", actor, now)
        return left

    # --- offering and answering (see :mod:`saveit.waitlist.offers`) ---------------------

    def offer(self, restaurant_id: int, day: date) -> list[EntryView]:
        """Hold a seat for each waiting entry of the day that now fits, first joined
        first; returns the entries now holding an offer. Cheap when nobody waits."""
        return self._offers.offer(restaurant_id, day)

    def accept(self, code: str, actor: Actor) -> ReservationView:
        """The hold becomes the guest's booking, in one transaction."""
        return self._offers.accept(self.get(code), actor)

    def decline(self, code: str, actor: Actor) -> EntryView:
        return self._offers.decline(self.get(code), actor)

    # --- the clock and the guest's other bookings -----------------------------------------------

    def sweep(self) -> dict[str, int]:
        """Expire holds whose time is up, close entries whose window has passed, and
        offer again on every day someone waits (capacity a configuration change
        freed emits no event). Any number of workers may sweep at once."""
        now = self.clock()
        done = {"expired": 0, "closed": 0, "offered": 0}
        with self.db.reading() as r:
            due = r.waitlist.expired_holds(now)
            gone = r.waitlist.passed(now)
        for entry in due:
            try:
                self._offers.release(entry, "expired", SYSTEM, due=now)
                done["expired"] += 1
            except errors.OfferGone:
                continue  # accepted or declined meanwhile
        for entry in gone:
            if self._close(entry, "window passed"):
                done["closed"] += 1
        with self.db.reading() as r:
            days = r.waitlist.waiting_days((now - timedelta(days=1)).date())
        for restaurant_id, day in days:
            done["offered"] += len(self._offers.offer(restaurant_id, day))
        return done

    def _close(self, entry: EntryView, reason: str) -> bool:
        if entry.status == "offered":
            try:
                self._offers.release(entry, "closed", SYSTEM)
            except errors.OfferGone:
                return False
            return True
        now = self.clock()
        with self.db.unit_of_work() as uow:
            if not uow.waitlist.move(
                entry.id,
                from_status="waiting",
                values={"status": "closed", "updated_at": now},
            ):
                return False
            audit(uow, uow.waitlist.by_id(entry.id), "closed", SYSTEM, now, reason=reason)
        return True

    def guests_waiting(self, guests: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which (restaurant id, guest id) pairs hold an open entry, in one read."""
        with self.db.reading() as r:
            return r.waitlist.guests_waiting(guests)

    def booked_elsewhere(
        self, restaurant_id: int, guest_id: int, start: datetime, code: str
    ) -> int:
        """The guest booked ``start`` by other means: their open entries of its day
        close (an offer's seat goes to the next guest).

        This runs for every booking the platform makes, and nearly every guest waits
        on no list: so the restaurant (whose time zone and services say which day
        ``start`` belongs to) is read only once the guest is found waiting, in the
        same transaction. Reading it first was a third of the worker's time under a
        booking burst (``bench/booking.py``, py-spy)."""
        with self.db.reading() as r:
            entries = r.waitlist.of_guest(restaurant_id, guest_id)
            if not entries:
                return 0
            day = day_of(self.booking.cache.get_by_id(r, restaurant_id), start)
        mine = [e for e in entries if e.day == day and e.hold_code != code]
        return sum(self._close(e, f"booked {code}") for e in mine)
