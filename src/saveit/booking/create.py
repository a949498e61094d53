"""Making a booking: rules first, then one transaction that claims a free seating.

An ``Idempotency-Key`` is stored with a hash of the request in the booking's own
transaction (on PostgreSQL, often its own statement): a replay returns the same
booking, a concurrent duplicate waits on the key's unique index and then replays,
and the same key on a different request is a ``CONFLICT``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from saveit.booking.context import BookingContext, Lost
from saveit.booking.ports import Reads
from saveit.booking.queries import Queries
from saveit.domain import errors
from saveit.domain.availability import cells, check_rules, end_of
from saveit.domain.commands import Actor, CreateReservation
from saveit.domain.model import Restaurant, Seating, Status
from saveit.domain.reservation import (
    check_new_status,
    check_table_choice,
    pending_from,
    status_for_new,
)
from saveit.domain.views import Created, GuestView, ReservationView
from saveit.observe import metrics
from saveit.store import guests as guest_store
from saveit.store.errors import retrying

log = logging.getLogger(__name__)


class CreateBooking:
    def __init__(self, ctx: BookingContext, queries: Queries) -> None:
        self.ctx = ctx
        self.queries = queries

    def __call__(self, cmd: CreateReservation, actor: Actor) -> Created:
        try:
            return self._create(cmd, actor)
        except errors.DomainError as exc:
            metrics.count_refusal(exc.code)
            for listener in self.ctx.refusal_listeners:
                try:
                    listener(cmd, actor, exc.code)
                except Exception:  # the refusal stands whatever a listener does
                    log.exception("booking: a refusal listener failed")
            raise

    def _create(self, cmd: CreateReservation, actor: Actor) -> Created:
        ctx = self.ctx
        cmd = self._normalised(cmd)
        if cmd.tables:
            check_table_choice(actor)
        check_new_status(cmd.status)
        now = ctx.clock()
        request_hash = _request_hash(cmd)
        with ctx.db.reading() as r:
            restaurant = ctx.cache.get(r, cmd.restaurant)
            if cmd.idempotency_key:
                replayed = _replay(r, restaurant, cmd, request_hash)
                if replayed:
                    return replayed
            check_rules(restaurant, cmd.start, cmd.party_size, now, staff=actor.is_staff)
            if cmd.tables:
                candidates = [ctx.named_seating(restaurant, cmd.tables)]
            else:
                candidates = ctx.free_seatings(r, restaurant, cmd.start, cmd.party_size, cmd.area)
        taken = self.queries.slot_taken
        if not candidates:
            raise taken(restaurant, cmd.start, cmd.party_size, actor.is_staff)
        try:
            made = retrying(
                lambda: self._write(restaurant, cmd, actor, candidates, request_hash, now)
            )
        except Lost:
            raise taken(restaurant, cmd.start, cmd.party_size, actor.is_staff) from None
        if not made.replayed:
            ctx.changed(made.reservation, None)
        return made

    def _normalised(self, cmd: CreateReservation) -> CreateReservation:
        guest = cmd.guest
        if guest.phone:
            guest = replace(
                guest, phone=guest_store.normalise_phone(guest.phone, self.ctx.phone_region)
            )
        if guest.email:
            guest = replace(guest, email=guest_store.normalise_email(guest.email))
        if cmd.start.tzinfo is None:
            raise errors.ValidationFailed("start must carry a UTC offset", field="start")
        return replace(cmd, guest=guest, start=cmd.start.astimezone(UTC))

    def _write(
        self,
        restaurant: Restaurant,
        cmd: CreateReservation,
        actor: Actor,
        candidates: Sequence[Seating],
        request_hash: str,
        now: datetime,
    ) -> Created:
        """On PostgreSQL, a booking for a guest identified by id or named by phone or
        email is first tried as one statement that is its own transaction, guest's row
        and ``Idempotency-Key`` included (``store.booked_at_once``): one round trip.
        Otherwise, or when that statement could not write it whole and wrote nothing,
        one transaction: the key, the guest's row and, on PostgreSQL, one statement
        that writes everything else (``store.booked``). The view is built here rather
        than read back, and the slot's cover counter — the one row every booking of a
        popular time shares — is written last, so its lock is held only until the
        commit."""
        ctx = self.ctx
        end = end_of(restaurant, cmd.start, cmd.party_size)
        buffer = restaurant.rules.buffer_minutes
        span = cells(cmd.start, end, buffer)
        cap = restaurant.rules.pacing_covers_per_slot
        key = cmd.idempotency_key
        if cmd.guest_id is not None or cmd.guest.phone or cmd.guest.email:
            # the guest's row, the booking and its key in one statement, its own
            # transaction; the guest is known once it has run, so the status is the one
            # asked for unless the guest's no-shows say otherwise, and then nothing is
            # written
            asked = _draft(restaurant, cmd, None, cmd.status, end, buffer, now)
            booked = ctx.book_at_once(
                asked,
                cmd.guest,
                area=cmd.area,
                actor=actor,
                candidates=candidates,
                span=span,
                cap=cap,
                pending_from=pending_from(restaurant.rules, actor),
                guest_id=cmd.guest_id,
                key=(key, request_hash) if key else None,
            )
            if booked is not None:
                return Created(booked, replayed=False)
        with ctx.db.unit_of_work() as uow:
            reservations = uow.reservations
            if key and not uow.idempotency.claim_key(restaurant.id, key, request_hash, now):
                replayed = _replay(uow, restaurant, cmd, request_hash)
                assert replayed is not None
                return replayed
            guest = (
                uow.guests.known(restaurant.id, cmd.guest_id, cmd.guest, now)
                if cmd.guest_id is not None
                else uow.guests.find_or_create(restaurant.id, cmd.guest, now)
            )
            if cmd.guest_id is not None and guest is None:
                raise errors.NotFound("No such guest", guest_id=cmd.guest_id)
            status = status_for_new(restaurant.rules, cmd.status, guest, actor)
            draft = _draft(restaurant, cmd, guest, status, end, buffer, now)
            if not key:
                view = ctx.insert_booked(
                    reservations,
                    draft,
                    area=cmd.area,
                    actor=actor,
                    candidates=candidates,
                    span=span,
                    cap=cap,
                )
                return Created(view, replayed=False)
            # With a key to bind, the booking and its record stay two statements: the
            # slot's covers must remain the last write.
            reservation_id, code, seating = ctx.insert_seated(
                reservations,
                restaurant_id=restaurant.id,
                guest_id=guest.id if guest else None,
                party_size=cmd.party_size,
                start=cmd.start,
                end=end,
                buffer=buffer,
                status=status,
                source=cmd.source,
                notes=cmd.notes,
                area=cmd.area,
                actor=actor,
                now=now,
                candidates=candidates,
                span=span,
            )
            uow.idempotency.bind(restaurant.id, key, reservation_id)
            view = replace(draft, id=reservation_id, code=code, tables=tuple(sorted(seating.codes)))
            # the audit row, the event and the slot's covers: the last write
            if not reservations.record_created(view, actor, now, cap):
                raise Lost
        return Created(view, replayed=False)


def _draft(
    restaurant: Restaurant,
    cmd: CreateReservation,
    guest: GuestView | None,
    status: Status,
    end: datetime,
    buffer: int,
    now: datetime,
) -> ReservationView:
    """The new booking as it will be written, but for its id, code and tables."""
    return ReservationView(
        id=0,
        code="",
        restaurant_id=restaurant.id,
        restaurant=restaurant.slug,
        guest=guest,
        party_size=cmd.party_size,
        start=cmd.start,
        end=end,
        buffer_minutes=buffer,
        tables=(),
        status=status,
        source=cmd.source,
        notes=cmd.notes,
        created_at=now,
        updated_at=now,
        version=1,
    )


def _request_hash(cmd: CreateReservation) -> str:
    doc = {
        "start": cmd.start.astimezone(UTC).isoformat(),
        "party_size": cmd.party_size,
        "name": cmd.guest.name,
        "phone": cmd.guest.phone,
        "email": cmd.guest.email,
        "notes": cmd.notes,
        "area": cmd.area,
        "tables": list(cmd.tables),
        "guest_id": cmd.guest_id,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _replay(
    r: Reads, restaurant: Restaurant, cmd: CreateReservation, request_hash: str
) -> Created | None:
    assert cmd.idempotency_key is not None
    row = r.idempotency.entry(restaurant.id, cmd.idempotency_key)
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise errors.Conflict(
            "This Idempotency-Key was used for a different request",
            idempotency_key=cmd.idempotency_key,
        )
    if row.reservation_id is None:
        raise errors.Conflict("A request with this Idempotency-Key is still in progress")
    return Created(r.reservations.view_by_id(row.reservation_id), replayed=True)
