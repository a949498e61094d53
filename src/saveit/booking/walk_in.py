"""Seating a walk-in: a party at the door, seated now on a free table."""

from __future__ import annotations

from saveit.booking.context import BookingContext, Lost, retrying
from saveit.domain import errors
from saveit.domain.availability import cells, check_party, end_of
from saveit.domain.commands import Actor, GuestDetails, WalkIn
from saveit.domain.model import Status
from saveit.domain.reservation import check_walk_in
from saveit.domain.views import ReservationView
from saveit.store import guests as guest_store
from saveit.store import reservations as store


class SeatWalkIn:
    def __init__(self, ctx: BookingContext) -> None:
        self.ctx = ctx

    def __call__(self, cmd: WalkIn, actor: Actor) -> ReservationView:
        """No contact needed, no opening-hours or lead-time rules."""
        check_walk_in(actor, cmd.party_size)
        ctx = self.ctx
        now = ctx.clock()
        start = now.replace(second=0, microsecond=0)
        with ctx.reading() as conn:
            restaurant = ctx.cache.get(conn, cmd.restaurant)
            check_party(restaurant, cmd.party_size, staff=True)
            if cmd.tables:
                candidates = [ctx.named_seating(restaurant, cmd.tables)]
            else:
                candidates = ctx.free_seatings(conn, restaurant, start, cmd.party_size, cmd.area)
        if not candidates:
            raise _no_table()
        end = end_of(restaurant, start, cmd.party_size)
        buffer = restaurant.rules.buffer_minutes

        def write() -> ReservationView:
            with ctx.engine.begin() as conn:
                guest = guest_store.find_or_create(
                    conn, restaurant.id, GuestDetails(name=cmd.name), now
                )
                guest_id = guest.id if guest else None
                reservation_id, _code = ctx.insert_reservation(
                    conn,
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
                )
                ctx.claim_first_free(conn, reservation_id, candidates, cells(start, end, buffer))
                store.bump_guest_counter(conn, guest_id, "visit_count", now)
                view = store.view_by_id(conn, reservation_id)
                store.record_change(conn, view, actor, "walk_in", None, now)
            return view

        try:
            seated = retrying(write)
        except Lost:
            raise _no_table() from None
        return ctx.changed(seated, None)


def _no_table() -> errors.SlotTaken:
    return errors.SlotTaken("No table is free for that party right now", alternatives=[])
