"""Changing a booking: its time, party, tables or notes.

A move swaps the claims inside one transaction, so a move that fails (the new
time was taken meanwhile) leaves the booking exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from saveit.booking.context import BookingContext, Lost
from saveit.booking.queries import Queries
from saveit.domain import errors
from saveit.domain.availability import cells, check_party, check_rules, end_of
from saveit.domain.commands import Actor, ModifyReservation
from saveit.domain.model import Restaurant, Seating
from saveit.domain.reservation import check_changeable, check_table_choice
from saveit.domain.views import ReservationView
from saveit.observe import metrics
from saveit.store.errors import retrying


class ChangeBooking:
    def __init__(self, ctx: BookingContext, queries: Queries) -> None:
        self.ctx = ctx
        self.queries = queries

    def __call__(self, cmd: ModifyReservation, actor: Actor) -> ReservationView:
        try:
            return self._modify(cmd, actor)
        except errors.DomainError as exc:
            metrics.count_refusal(exc.code)
            raise

    def _modify(self, cmd: ModifyReservation, actor: Actor) -> ReservationView:
        ctx = self.ctx
        now = ctx.clock()
        if cmd.tables is not None:
            check_table_choice(actor)
        with ctx.db.reading() as r:
            current = r.reservations.view_by_code(cmd.code)
            if current is None:
                raise errors.NotFound("No such reservation", code=cmd.code)
            restaurant = ctx.cache.get_by_id(r, current.restaurant_id)
            check_changeable(restaurant.rules, current, actor, now, cmd.expected_version)
            start = cmd.start.astimezone(UTC) if cmd.start else current.start
            party = cmd.party_size if cmd.party_size is not None else current.party_size
            moves = (
                start != current.start
                or party != current.party_size
                or (cmd.tables is not None and tuple(sorted(cmd.tables)) != current.tables)
            )
            candidates: list[Seating] = []
            if moves:
                if start == current.start and actor.is_staff:
                    # Staff re-seating or resizing a party at its own time: a seated
                    # party or a walk-in (off the grid, already started) may change too.
                    check_party(restaurant, party, staff=True)
                else:
                    check_rules(restaurant, start, party, now, staff=actor.is_staff)
                if cmd.tables is not None:
                    candidates = [ctx.named_seating(restaurant, cmd.tables)]
                else:
                    free = ctx.free_seatings(r, restaurant, start, party, None, current.id)
                    # Keep the guest at the same table when it still fits and is free.
                    candidates = sorted(free, key=lambda s: s.codes != current.tables)
                if not candidates:
                    raise self.queries.slot_taken(
                        restaurant, start, party, actor.is_staff, current.id
                    )
        try:
            view = retrying(
                lambda: self._write(
                    restaurant,
                    current,
                    cmd,
                    actor,
                    start,
                    party,
                    candidates if moves else None,
                    now,
                )
            )
        except Lost:
            raise self.queries.slot_taken(
                restaurant, start, party, actor.is_staff, current.id
            ) from None
        ctx.changed(view, current)
        return view

    def _write(
        self,
        restaurant: Restaurant,
        current: ReservationView,
        cmd: ModifyReservation,
        actor: Actor,
        start: datetime,
        party: int,
        candidates: Sequence[Seating] | None,
        now: datetime,
    ) -> ReservationView:
        end = end_of(restaurant, start, party) if candidates is not None else current.end
        buffer = (
            restaurant.rules.buffer_minutes if candidates is not None else (current.buffer_minutes)
        )
        with self.ctx.db.unit_of_work() as uow:
            reservations = uow.reservations
            if not reservations.reschedule(
                current.id,
                current.version,
                start=start,
                end=end,
                party_size=party,
                buffer_minutes=buffer,
                notes=cmd.notes if cmd.notes is not None else current.notes,
                now=now,
            ):
                raise errors.Conflict("The reservation changed while we were updating it")
            if candidates is not None:
                reservations.release(current.id, forget_tables=True)
                span = cells(start, end, buffer)
                self.ctx.claim_first_free(reservations, current.id, candidates, span)
            view = reservations.view_by_id(current.id)
            reservations.record_change(view, actor, "modified", current, now)
            if candidates is not None:
                # Last, as in create. The two slot counters are touched in a fixed
                # order so that two bookings swapping slots cannot deadlock on them.
                moves_covers = sorted(
                    [
                        (current.start, -current.party_size, None),
                        (start, party, restaurant.rules.pacing_covers_per_slot),
                    ],
                    key=lambda item: item[0],
                )
                for slot_start, covers, cap in moves_covers:
                    if not reservations.add_covers(restaurant.id, slot_start, covers, cap):
                        raise Lost
        return view
