"""Seating a walk-in: a party at the door, seated now on a free table."""

from __future__ import annotations

from saveit.booking.context import BookingContext, Lost
from saveit.domain import errors
from saveit.domain.availability import cells, check_party, end_of
from saveit.domain.commands import Actor, GuestDetails, WalkIn
from saveit.domain.model import Status
from saveit.domain.reservation import check_walk_in
from saveit.domain.views import ReservationView
from saveit.store.errors import retrying


class SeatWalkIn:
    def __init__(self, ctx: BookingContext) -> None:
        self.ctx = ctx

    def __call__(self, cmd: WalkIn, actor: Actor) -> ReservationView:
        """No contact needed, no opening-hours or lead-time rules."""
        check_walk_in(actor, cmd.party_size)
        ctx = self.ctx
        now = ctx.clock()
        start = now.replace(second=0, microsecond=0)
        with ctx.db.reading() as r:
            restaurant = ctx.cache.get(r, cmd.restaurant)
            check_party(restaurant, cmd.party_size, staff=True)
            if cmd.tables:
                candidates = [ctx.named_seating(restaurant, cmd.tables)]
            else:
                candidates = ctx.free_seatings(r, restaurant, start, cmd.party_size, cmd.area)
        if not candidates:
            raise _no_table()
        end = end_of(restaurant, start, cmd.party_size)
        buffer = restaurant.rules.buffer_minutes

        def write() -> ReservationView:
            with ctx.db.unit_of_work() as uow:
                reservations = uow.reservations
                guest = uow.guests.find_or_create(restaurant.id, GuestDetails(name=cmd.name), now)
                guest_id = guest.id if guest else None
                span = cells(start, end, buffer)
                reservation_id, _code, _seating = ctx.insert_seated(
                    reservations,
                    restaurant_id=restaurant.id,
                    guest_id=guest_id,
                    party_size=cmd.party_size,
                    start=start,
                    end=end,
                    buffer=buffer,
                    status=Status.CHECKED_IN,
                    source="walk_in",
                    notes=cmd.notes,
                    area=cmd.area,
                    actor=actor,
                    now=now,
                    candidates=candidates,
                    span=span,
                )
                reservations.bump_guest_counter(guest_id, "visit_count", now)
                view = reservations.view_by_id(reservation_id)
                reservations.record_change(view, actor, "walk_in", None, now)
            return view

        try:
            seated = retrying(write)
        except Lost:
            raise _no_table() from None
        return ctx.changed(seated, None)


def _no_table() -> errors.SlotTaken:
    return errors.SlotTaken("No table is free for that party right now", alternatives=[])
