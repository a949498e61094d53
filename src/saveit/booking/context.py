"""What every booking use case shares: its collaborators and the steps they compose.

The write pattern (see :mod:`saveit.booking.service`) is built from these steps:
free seatings read from the claims before the transaction, then inside it a
reservation row under a fresh code, the first candidate seating whose cells are
all free, and the change's audit row and event; after the commit the in-process
listeners hear of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from saveit.booking import codes
from saveit.booking.ports import Configurations, Data, Reads, Reservations
from saveit.domain import errors
from saveit.domain.availability import Occupancy, cells, end_of, seatings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import CLAIM_MINUTES, Booked, Restaurant, Seating, Status
from saveit.domain.schedule import windows_for
from saveit.domain.views import ReservationView
from saveit.observe import metrics

_log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ChangeListener = Callable[[ReservationView, ReservationView | None], None]
RefusalListener = Callable[[CreateReservation, Actor, str], None]
"""Told of every refused create with the refusal's code (the analytics' success rate)."""
"""Called after a committed change with (reservation now, reservation before or None)."""
DayHint = Callable[[str, date], Occupancy | None]  # (slug, service day) -> recent bookings


def utc_now() -> datetime:
    return datetime.now(UTC)


class Lost(Exception):
    """Every candidate seating was taken by racing bookings (or pacing filled up)."""


class BookingContext:
    """The collaborators of the booking use cases, built once by the composition root."""

    def __init__(
        self,
        db: Data,
        *,
        secret: bytes,
        cache: Configurations,
        clock: Clock = utc_now,
        phone_region: str = "ES",
        listeners: Sequence[ChangeListener] = (),
        day_hint: DayHint | None = None,
        refusal_listeners: Sequence[RefusalListener] = (),
    ) -> None:
        self.db = db
        self.cache = cache
        self.clock = clock
        self.secret = secret
        self.phone_region = phone_region
        # After-commit hooks (e.g. the availability cache): told of every committed
        # change in this process; a failing listener is logged, never raised.
        self.listeners: list[ChangeListener] = list(listeners)
        # Where alternatives to a taken time look first for a day's bookings: a
        # copy read moments ago (the availability cache's, see
        # ``AvailabilityCache.recent_occupancy``). Alternatives are suggestions, and
        # booking one re-checks everything, so a copy as fresh as cached
        # availability saves reading the day again on every refusal.
        self.day_hint = day_hint
        # Told of every refused create; a failing listener is logged, never raised.
        self.refusal_listeners: list[RefusalListener] = list(refusal_listeners)

    # --- reading --------------------------------------------------------------------

    def restaurant_version(self, slug: str) -> tuple[Restaurant, int]:
        """The configuration and its ``config_version`` (see ``RestaurantCache``)."""
        trusted = self.cache.trusted(slug)
        if trusted is not None:
            return trusted
        with self.db.reading() as r:
            return self.cache.get_versioned(r, slug)

    def restaurant(self, slug: str) -> Restaurant:
        return self.restaurant_version(slug)[0]

    def preload_configurations(self, limit: int) -> int:
        """See ``RestaurantCache.preload``."""
        with self.db.reading() as r:
            return self.cache.preload(r, limit)

    def get(self, code: str) -> ReservationView:
        with self.db.reading() as r:
            view = r.reservations.view_by_code(code)
        if view is None:
            raise errors.NotFound("No such reservation", code=code)
        return view

    # --- seatings -------------------------------------------------------------------

    @staticmethod
    def day_bounds(restaurant: Restaurant, day: date) -> tuple[datetime, datetime]:
        tz = restaurant.tz
        lo = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=2), datetime.min.time(), tzinfo=tz)
        return lo, hi.astimezone(UTC)

    def booked_for_starts(
        self, r: Reads, restaurant: Restaurant, day: date, exclude_id: int | None = None
    ) -> list[Booked]:
        """The bookings that can collide with a start on the day's grid: those still
        running at the first opening and those starting before the last possible
        stay ends. Narrower than the whole day, so availability parses fewer rows."""
        return self.booked_for_days(r, restaurant, [day], exclude_id)

    def booked_for_days(
        self,
        r: Reads,
        restaurant: Restaurant,
        days: Sequence[date],
        exclude_id: int | None = None,
    ) -> list[Booked]:
        """:meth:`booked_for_starts` for several days at once: one range from the first
        day's span to the last's (the nights between are few rows)."""
        spans = [self.starts_span(restaurant, day) for day in days]
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        return r.reservations.booked_between(restaurant.id, lo, hi, exclude_id=exclude_id)

    def starts_span(self, restaurant: Restaurant, day: date) -> tuple[datetime, datetime]:
        """Where bookings that can collide with the day's starts lie (see
        :meth:`booked_for_starts`)."""
        windows = windows_for(restaurant, day)
        if not windows:
            return self.day_bounds(restaurant, day)
        rules = restaurant.rules
        slack = timedelta(minutes=CLAIM_MINUTES)  # claims are whole cells
        longest = timedelta(minutes=max(t.minutes for t in rules.turn_times) + rules.buffer_minutes)
        lo = min(w.opens for w in windows) - slack
        hi = max(w.closes for w in windows) + longest + slack
        return lo, hi

    @staticmethod
    def free_seatings(
        r: Reads,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        area: str | None = None,
        exclude_id: int | None = None,
    ) -> list[Seating]:
        """Seatings free for the whole stay, best first, as the claims stand now
        (``exclude_id``: a booking being moved does not block itself)."""
        options = seatings(restaurant, party_size, area)
        wanted = cells(
            start, end_of(restaurant, start, party_size), restaurant.rules.buffer_minutes
        )
        tables = {table_id for option in options for table_id in option.table_ids}
        busy = r.reservations.busy_tables(tables, wanted, exclude_id=exclude_id)
        return [option for option in options if busy.isdisjoint(option.table_ids)]

    @staticmethod
    def named_seating(restaurant: Restaurant, codes_: Sequence[str]) -> Seating:
        by_code = {t.code: t for t in restaurant.tables if t.active}
        missing = [c for c in codes_ if c not in by_code]
        if missing:
            raise errors.ValidationFailed(f"Unknown table(s): {', '.join(missing)}", tables=missing)
        chosen = [by_code[c] for c in dict.fromkeys(codes_)]
        areas = {t.area for t in chosen}
        return Seating(
            tuple(sorted(t.id for t in chosen)),
            tuple(sorted(t.code for t in chosen)),
            areas.pop() if len(areas) == 1 else "mixed",
            sum(t.max_capacity for t in chosen),
            is_combination=len(chosen) > 1,
        )

    # --- writing --------------------------------------------------------------------

    @staticmethod
    def insert_seated(
        reservations: Reservations,
        *,
        restaurant_id: int,
        guest_id: int | None,
        party_size: int,
        start: datetime,
        end: datetime,
        buffer: int,
        status: Status,
        source: str,
        notes: str,
        area: str | None,
        actor: Actor,
        now: datetime,
        candidates: Sequence[Seating],
        span: range,
    ) -> tuple[int, str, Seating]:
        """The new row's id and public code, and the seating it got: the first of
        ``candidates`` (best first, at least one) is claimed over the stay's cells
        ``span`` in the insert's own statement, the others after it
        (:meth:`claim_first_free`). Raises :class:`Lost` when none is free."""
        for _attempt in range(5):
            code = codes.new_code()
            values = {
                "code": code,
                "restaurant_id": restaurant_id,
                "guest_id": guest_id,
                "party_size": party_size,
                "start_at": start,
                "end_at": end,
                "buffer_minutes": buffer,
                "status": status.value,
                "source": source,
                "notes": notes,
                "area_preference": area,
                "created_by": actor.label,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            made, claimed = reservations.insert_claiming(values, candidates[0].table_ids, span)
            if made is None:
                continue  # a code collision: 40 random bits, so vanishingly rare
            if claimed:
                return made, code, candidates[0]
            metrics.claim_conflicts.inc()  # a racing booking holds a cell: the next one
            seating = BookingContext.claim_first_free(reservations, made, candidates[1:], span)
            return made, code, seating
        raise RuntimeError("could not draw a free reservation code")

    @staticmethod
    def insert_booked(
        reservations: Reservations,
        draft: ReservationView,
        *,
        area: str | None,
        actor: Actor,
        candidates: Sequence[Seating],
        span: range,
        cap: int | None,
    ) -> ReservationView:
        """A new booking inserted, seated at the first of ``candidates`` (best first,
        at least one) whose cells are all free, recorded, and its covers counted: the
        view as made (``draft`` describes it but for its id, code and tables). When
        the first candidate holds, the store does it all in one statement
        (``store.booked``); otherwise the reservation goes to the next free one and
        is recorded after. Raises :class:`Lost` when none is free or the pacing cap
        refuses the covers (the caller's transaction then rolls back)."""
        first = candidates[0]
        for _attempt in range(5):
            view = replace(draft, code=codes.new_code(), tables=tuple(sorted(first.codes)))
            made, claimed, counted = reservations.insert_booked(
                view, area, list(first.table_ids), span, actor, cap
            )
            if made is None:
                continue  # a code collision: 40 random bits, so vanishingly rare
            if claimed:
                if not counted:
                    raise Lost
                return replace(view, id=made)
            metrics.claim_conflicts.inc()  # a racing booking holds a cell: the next one
            seating = BookingContext.claim_first_free(reservations, made, candidates[1:], span)
            view = replace(view, id=made, tables=tuple(sorted(seating.codes)))
            if not reservations.record_created(view, actor, view.created_at, cap):
                raise Lost
            return view
        raise RuntimeError("could not draw a free reservation code")

    def book_at_once(
        self,
        draft: ReservationView,
        details: GuestDetails,
        *,
        area: str | None,
        actor: Actor,
        candidates: Sequence[Seating],
        span: range,
        cap: int | None,
        pending_from: int | None,
        guest_id: int | None,
        key: tuple[str, str] | None,
    ) -> ReservationView | None:
        """A new booking and its guest (``guest_id``'s, else found or made from
        ``details``), with its ``Idempotency-Key`` and request hash (``key``) if any,
        written in one statement that is its own transaction
        (``store.booked_at_once``), seated at the first of ``candidates``: the view as
        made (``draft`` describes it but for its id, code, tables and guest). None when
        the store has no such statement, or when it could not write the booking whole
        (the table was taken, the slot's cap reached, the guest's no-shows reach
        ``pending_from``, the code drawn taken, the guest unknown, the key stored
        already): nothing was written, and the caller's transaction decides."""
        at_once = self.db.on_its_own()
        if at_once is None:
            return None
        first = candidates[0]
        view = replace(draft, code=codes.new_code(), tables=tuple(sorted(first.codes)))
        with at_once as uow:
            made = uow.reservations.insert_booked_at_once(
                view,
                details,
                area,
                list(first.table_ids),
                span,
                actor,
                cap,
                pending_from,
                guest_id=guest_id,
                key=key,
            )
        if made is None:
            return None
        return replace(view, id=made.reservation_id, guest=made.guest)

    @staticmethod
    def claim_first_free(
        reservations: Reservations,
        reservation_id: int,
        candidates: Sequence[Seating],
        span: range,
    ) -> Seating:
        for seating in candidates:
            if reservations.claim(reservation_id, seating.table_ids, span):
                return seating
            # a racing booking holds a cell: try the next table
            metrics.claim_conflicts.inc()
        raise Lost

    def changed(self, view: ReservationView, before: ReservationView | None) -> ReservationView:
        for listener in self.listeners:
            try:
                listener(view, before)
            except Exception:
                _log.exception("change listener failed for reservation %s", view.code)
        return view
