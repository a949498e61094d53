"""Reading bookings: availability, alternatives to a taken time, a day's list."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date, datetime

from saveit.booking.context import BookingContext
from saveit.booking.ports import Reads
from saveit.domain import errors
from saveit.domain.availability import (
    Occupancy,
    Slot,
    bookable_starts,
    check_rules,
    nearest_alternatives,
)
from saveit.domain.model import Booked, Restaurant
from saveit.domain.reservation import check_party_size
from saveit.domain.schedule import day_of
from saveit.domain.views import ReservationView


class Queries:
    def __init__(self, ctx: BookingContext) -> None:
        self.ctx = ctx

    def slot_taken(
        self,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        staff: bool,
        exclude_id: int | None = None,
    ) -> errors.SlotTaken:
        """The refusal of a taken time, with the nearest free ones to offer instead."""
        alternatives = self.nearest(restaurant, start, party_size, staff, exclude_id)
        return errors.SlotTaken(
            "That time is no longer free",
            alternatives=[a.isoformat() for a in alternatives],
        )

    def nearest(
        self,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        staff: bool,
        exclude_id: int | None = None,
        limit: int = 3,
    ) -> list[datetime]:
        ctx = self.ctx
        now = ctx.clock()
        hint = ctx.day_hint if exclude_id is None else None  # a hint holds every booking
        with ExitStack() as stack:
            reads: Reads | None = None

            def booked_on(day: date) -> Sequence[Booked] | Occupancy:
                nonlocal reads
                held = hint(restaurant.slug, day) if hint is not None else None
                if held is not None:
                    return held
                if reads is None:
                    reads = stack.enter_context(ctx.db.reading())
                return ctx.booked_for_starts(reads, restaurant, day, exclude_id)

            return nearest_alternatives(
                restaurant, start, party_size, now, booked_on, staff=staff, limit=limit
            )

    def alternatives(
        self,
        slug: str,
        start: datetime,
        party_size: int,
        *,
        limit: int = 3,
        exclude_code: str | None = None,
    ) -> list[datetime]:
        """Free starts nearest ``start`` (same day first, then the next days), as a
        guest may book them; ``exclude_code`` frees that booking's own tables (a move)."""
        exclude_id = self.ctx.get(exclude_code).id if exclude_code else None
        return self.nearest(self.ctx.restaurant(slug), start, party_size, False, exclude_id, limit)

    def check_request(self, slug: str, start: datetime, party_size: int) -> None:
        """Raise the rule a guest's request breaks (closed, too soon, too large …)."""
        check_rules(self.ctx.restaurant(slug), start, party_size, self.ctx.clock(), staff=False)

    def availability(
        self,
        slug: str,
        day: date,
        party_size: int,
        *,
        area: str | None = None,
        staff: bool = False,
        exclude_code: str | None = None,
    ) -> tuple[Restaurant, list[Slot]]:
        """``exclude_code`` leaves that reservation's own tables out, as a move would."""
        check_party_size(party_size)
        ctx = self.ctx
        now = ctx.clock()
        restaurant = ctx.restaurant(slug)
        with ctx.db.tolerant_reading() as r:
            exclude_id = None
            if exclude_code:
                excluded = r.reservations.view_by_code(exclude_code)
                exclude_id = excluded.id if excluded else None
            booked = ctx.booked_for_starts(r, restaurant, day, exclude_id)
        return restaurant, bookable_starts(
            restaurant, day, party_size, now, booked, area=area, staff=staff
        )

    def day_occupancy(self, slug: str, day: date) -> tuple[Restaurant, Occupancy]:
        """What a day's availability is computed from, read once: the availability
        cache reuses it for every party size while the day's cache generation holds."""
        return self.days_occupancy(slug, [day])

    def days_occupancy(self, slug: str, days: Sequence[date]) -> tuple[Restaurant, Occupancy]:
        """:meth:`day_occupancy` for several days of one restaurant in one query (the
        availability cache fills a guest's week on one miss). One ``Occupancy`` holds
        them all: it keys held cells by instant and covers by exact start, so one
        day's bookings never touch another day's starts."""
        restaurant = self.ctx.restaurant(slug)
        with self.ctx.db.tolerant_reading() as r:
            booked = self.ctx.booked_for_days(r, restaurant, days)
        return restaurant, Occupancy(booked)

    def upcoming_of_guest(self, slug: str, guest_id: int) -> list[ReservationView]:
        """What a guest still has ahead at one restaurant: what a chat may act on."""
        with self.ctx.db.reading() as r:
            restaurant = self.ctx.cache.get(r, slug)
            return r.reservations.upcoming_of_guest(restaurant.id, guest_id, self.ctx.clock())

    def arrival_times(self, views: Sequence[ReservationView]) -> dict[int, datetime]:
        """When each seated booking's guests arrived (see ``store.changes``)."""
        with self.ctx.db.reading() as r:
            return r.reservations.arrival_times([v.id for v in views])

    def list_for_day(
        self, slug: str, day: date, *, caught_up_to: str | None = None
    ) -> list[ReservationView]:
        """The reservations of one service day: a 00:30 start of a late service that
        opened the evening before is listed on that evening's day."""
        ctx = self.ctx
        restaurant = ctx.restaurant(slug)
        with ctx.db.tolerant_reading(caught_up_to=caught_up_to) as r:
            lo, hi = ctx.day_bounds(restaurant, day)
            views = r.reservations.views_between(restaurant.id, lo, hi)
        return [v for v in views if day_of(restaurant, v.start) == day]
