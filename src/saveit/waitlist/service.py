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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from saveit.booking import codes
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.availability import bookable_starts, cells, check_rules, end_of, seatings
from saveit.domain.commands import Actor, GuestDetails
from saveit.domain.model import Restaurant, Seating, Status
from saveit.domain.schedule import business_day_of
from saveit.domain.views import ReservationView
from saveit.store import guests as guest_store
from saveit.store import outbox
from saveit.store import reservations as reservation_store
from saveit.store import waitlist as store
from saveit.store.database import reading
from saveit.store.waitlist import EntryView

log = logging.getLogger(__name__)

SYSTEM = Actor("system", "waitlist", "system")
MIN_HOLD = timedelta(minutes=2)


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


class _Gone(Exception):
    """The entry or its seat changed under us: step back, nothing written."""


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
        self.engine = booking.engine
        self.hold = timedelta(minutes=hold_minutes)
        self.window = timedelta(minutes=window_minutes)
        self.clock = clock or booking.clock

    # --- tokens ------------------------------------------------------------------------

    def manage_token(self, code: str) -> str:
        """The guest's key to their entry (an HMAC: nothing stored), distinct from
        any booking's token even if the codes were ever equal."""
        return self.booking.manage_token(f"waitlist:{code}")

    def verify_manage_token(self, code: str, token: str) -> bool:
        return self.booking.verify_manage_token(f"waitlist:{code}", token)

    # --- reading -----------------------------------------------------------------------

    def get(self, code: str) -> EntryView:
        with reading(self.engine) as conn:
            found = store.by_code(conn, code)
        if found is None:
            raise errors.NotFound("No such waitlist entry", code=code)
        return found

    def by_hold(self, hold_code: str) -> EntryView:
        with reading(self.engine) as conn:
            found = store.by_hold(conn, hold_code)
        if found is None:
            raise errors.OfferGone("This offer is no longer open")
        return found

    def list_day(self, slug: str, day: date) -> list[EntryView]:
        with reading(self.engine) as conn:
            restaurant = self.booking.cache.get(conn, slug)
            return store.of_day(conn, restaurant.id, day)

    def of_guest(self, slug: str, guest_id: int) -> list[EntryView]:
        with reading(self.engine) as conn:
            restaurant = self.booking.cache.get(conn, slug)
            return store.of_guest(conn, restaurant.id, guest_id)

    def outcomes(self, slug: str, since: datetime, until: datetime) -> dict[str, int]:
        with reading(self.engine) as conn:
            restaurant = self.booking.cache.get(conn, slug)
            return store.outcomes(conn, restaurant.id, since, until)

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
        day = business_day_of(restaurant, start) or start.astimezone(restaurant.tz).date()
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
        with self.engine.begin() as conn:
            found = (
                guest_store.known(conn, restaurant.id, req.guest_id, guest, now)
                if req.guest_id is not None
                else guest_store.find_or_create(conn, restaurant.id, guest, now)
            )
            if found is None:
                raise errors.ValidationFailed(
                    "A phone or an email is needed to tell you when a table frees up",
                    field="guest",
                )
            entry_id = store.insert_entry(
                conn,
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
            entry = store.by_id(conn, entry_id)
            self._audit(conn, entry, "joined", actor, now)
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
        with self.engine.begin() as conn:
            if not store.move(
                conn, entry.id, from_status="waiting", values=values, version=entry.version
            ):
                raise errors.Conflict("The entry changed while we were updating it")
            changed = store.by_id(conn, entry.id)
            self._audit(conn, changed, "changed", actor, now, before=entry)
        return changed

    def leave(self, code: str, actor: Actor) -> EntryView:
        """Off the list; an open offer's seat is released for the next guest."""
        entry = self.get(code)
        if entry.status == "offered":
            return self._release(entry, "left", actor)
        if entry.status != "waiting":
            return entry  # already off the list: leaving twice is harmless
        now = self.clock()
        with self.engine.begin() as conn:
            if not store.move(
                conn, entry.id, from_status="waiting", values={"status": "left", "updated_at": now}
            ):
                raise errors.Conflict("The entry changed while we were updating it")
            left = store.by_id(conn, entry.id)
            self._audit(conn, left, "left", actor, now)
        return left

    # --- offering ------------------------------------------------------------------------

    def offer(self, restaurant_id: int, day: date) -> list[EntryView]:
        """Hold a seat for each waiting entry of the day that now fits, first joined
        first; returns the entries now holding an offer. Cheap when nobody waits."""
        with reading(self.engine) as conn:
            if not store.has_waiting(conn, restaurant_id, day):
                return []
            restaurant = self.booking.cache.get_by_id(conn, restaurant_id)
            waiting = store.of_day(conn, restaurant_id, day, ["waiting"])
        offered: list[EntryView] = []
        for entry in waiting:
            held = self._try_hold(restaurant, entry)
            if held is not None:
                offered.append(held)
        return offered

    def _try_hold(self, restaurant: Restaurant, entry: EntryView) -> EntryView | None:
        now = self.clock()
        if entry.latest < now:
            return None  # the sweep closes it
        _, booked = self.booking.day_occupancy(restaurant.slug, entry.day)
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
        with self.engine.begin() as conn:
            # The entry first: of two workers offering at once, one moves it.
            if not store.move(
                conn,
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
            hold_id, hold_code = self._insert_hold(conn, restaurant, entry, start, end, buffer, now)
            seating = None
            for option in candidates:
                if reservation_store.claim(
                    conn, hold_id, option.table_ids, cells(start, end, buffer)
                ):
                    seating = option
                    break
            if seating is None or not reservation_store.add_covers(
                conn,
                restaurant.id,
                start,
                entry.party_size,
                restaurant.rules.pacing_covers_per_slot,
            ):
                raise _Gone
            store.move(
                conn,
                entry.id,
                from_status="offered",
                values={"hold_id": hold_id},
            )
            hold = reservation_store.view_by_id(conn, hold_id)
            self._record_hold(conn, hold, None, "held", SYSTEM, now, entry)
            held = store.by_id(conn, entry.id)
            self._audit(conn, held, "offered", SYSTEM, now)
        log.info("waitlist: held %s at %s for entry %s", hold_code, start.isoformat(), entry.code)
        return held

    def _insert_hold(
        self,
        conn: Connection,
        restaurant: Restaurant,
        entry: EntryView,
        start: datetime,
        end: datetime,
        buffer: int,
        now: datetime,
    ) -> tuple[int, str]:
        for _attempt in range(5):
            code = codes.new_code()
            found = reservation_store.insert_reservation(
                conn,
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

    def accept(self, code: str, actor: Actor) -> ReservationView:
        """The hold becomes the guest's confirmed booking (pending for a guest past
        the no-show limit, as any booking of theirs), in one transaction."""
        now = self.clock()
        entry = self.get(code)
        if entry.status == "booked" and entry.reservation_code:
            return self.booking.get(entry.reservation_code)  # a second tap
        if entry.status != "offered" or entry.hold_id is None:
            raise errors.OfferGone("This offer is no longer open", status=entry.status)
        if entry.hold_expires_at is not None and entry.hold_expires_at <= now:
            raise errors.OfferGone("This offer has expired", status="expired")
        hold_id = entry.hold_id
        with self.engine.begin() as conn:
            before = reservation_store.view_by_id(conn, hold_id)
            status = self._status_for(before, actor)
            if not store.move(
                conn,
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
            ) or not store.set_hold_status(conn, hold_id, status.value, now):
                raise errors.OfferGone("This offer is no longer open")
            booked = reservation_store.view_by_id(conn, hold_id)
            self._record_hold(conn, booked, before, "created", actor, now, entry)
            self._audit(conn, store.by_id(conn, entry.id), "accepted", actor, now)
        self._changed(booked)
        return booked

    def _status_for(self, hold: ReservationView, actor: Actor) -> Status:
        """As a booking: guests past the restaurant's no-show limit wait for staff
        to confirm (``pending``); everyone else is confirmed."""
        limit = self.booking.restaurant(hold.restaurant).rules.no_show_approval_after
        guest = hold.guest
        if actor.is_staff or limit is None or guest is None or guest.no_show_count < limit:
            return Status.CONFIRMED
        return Status.PENDING

    def decline(self, code: str, actor: Actor) -> EntryView:
        entry = self.get(code)
        if entry.status != "offered":
            raise errors.OfferGone("This offer is no longer open", status=entry.status)
        return self._release(entry, "declined", actor)

    def _release(
        self, entry: EntryView, outcome: str, actor: Actor, *, due: datetime | None = None
    ) -> EntryView:
        """Give the held seat back (declined, expired, left or closed): the entry and
        the hold in one transaction, then ``reservation.released`` offers it on."""
        now = self.clock()
        hold_id = entry.hold_id
        with self.engine.begin() as conn:
            moved = store.move(
                conn,
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
                before = reservation_store.view_by_id(conn, hold_id)
                if store.set_hold_status(conn, hold_id, Status.RELEASED.value, now):
                    reservation_store.release(conn, hold_id, forget_tables=False)
                    released = reservation_store.view_by_id(conn, hold_id)
                    self._record_hold(conn, released, before, "released", actor, now, entry)
                    reservation_store.add_covers(
                        conn, entry.restaurant_id, before.start, -before.party_size, None
                    )
            after = store.by_id(conn, entry.id)
            self._audit(conn, after, outcome, actor, now)
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

    # --- the clock and the guest's other bookings -----------------------------------------------

    def sweep(self) -> dict[str, int]:
        """Expire holds whose time is up, close entries whose window has passed, and
        offer again on every day someone waits (capacity a configuration change
        freed emits no event). Any number of workers may sweep at once."""
        now = self.clock()
        done = {"expired": 0, "closed": 0, "offered": 0}
        with reading(self.engine) as conn:
            due = store.expired_holds(conn, now)
            gone = store.passed(conn, now)
        for entry in due:
            try:
                self._release(entry, "expired", SYSTEM, due=now)
                done["expired"] += 1
            except errors.OfferGone:
                continue  # accepted or declined meanwhile
        for entry in gone:
            if self._close(entry, "window passed"):
                done["closed"] += 1
        with reading(self.engine) as conn:
            days = store.waiting_days(conn, (now - timedelta(days=1)).date())
        for restaurant_id, day in days:
            done["offered"] += len(self.offer(restaurant_id, day))
        return done

    def _close(self, entry: EntryView, reason: str) -> bool:
        if entry.status == "offered":
            try:
                self._release(entry, "closed", SYSTEM)
            except errors.OfferGone:
                return False
            return True
        now = self.clock()
        with self.engine.begin() as conn:
            if not store.move(
                conn,
                entry.id,
                from_status="waiting",
                values={"status": "closed", "updated_at": now},
            ):
                return False
            self._audit(conn, store.by_id(conn, entry.id), "closed", SYSTEM, now, reason=reason)
        return True

    def booked_elsewhere(self, restaurant_id: int, guest_id: int, day: date, code: str) -> int:
        """The guest booked that day by other means: their open entries of the day
        close (an offer's seat goes to the next guest)."""
        with reading(self.engine) as conn:
            mine = [
                e
                for e in store.of_guest(conn, restaurant_id, guest_id)
                if e.day == day and e.hold_code != code
            ]
        return sum(self._close(e, f"booked {code}") for e in mine)

    # --- records ------------------------------------------------------------------------

    @staticmethod
    def _record_hold(
        conn: Connection,
        view: ReservationView,
        before: ReservationView | None,
        action: str,
        actor: Actor,
        now: datetime,
        entry: EntryView,
    ) -> None:
        """The hold's audit row and its ``reservation.<action>`` event, as a
        booking's: the live feed and the availability caches hear of it."""
        reservation_store.record_change(
            conn, view, actor, action, before, now, extra={"waitlist_entry": entry.code}
        )

    @staticmethod
    def _audit(
        conn: Connection,
        entry: EntryView,
        action: str,
        actor: Actor,
        now: datetime,
        *,
        before: EntryView | None = None,
        reason: str = "",
    ) -> None:
        """The entry's audit row and its ``waitlist.<action>`` event."""
        detail: dict[str, Any] = {"entry": entry.snapshot()}
        if before is not None:
            detail["before"] = before.snapshot()
        if reason:
            detail["reason"] = reason
        store.log(
            conn,
            entry=entry,
            action=action,
            actor=actor.label,
            channel=actor.channel,
            at=now,
            detail=detail,
        )
        outbox.emit(
            conn,
            restaurant_id=entry.restaurant_id,
            type_=f"waitlist.{action}",
            payload={**detail, "actor": actor.label, "channel": actor.channel},
            at=now,
        )
