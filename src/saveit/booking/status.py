"""Status changes: cancel, confirm, check in, no-show, complete — one path, driven by
:data:`saveit.domain.reservation.STATUS_CHANGES` (what each one entails)."""

from __future__ import annotations

from datetime import datetime

from saveit.booking.context import BookingContext
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.model import Rules, Status
from saveit.domain.reservation import (
    StatusChange,
    check_attendance_confirmable,
    plan_status_change,
)
from saveit.domain.views import ReservationView
from saveit.store.errors import retrying


class ChangeStatus:
    def __init__(self, ctx: BookingContext) -> None:
        self.ctx = ctx

    def __call__(
        self,
        code: str,
        target: Status,
        actor: Actor,
        *,
        expected_version: int | None = None,
        reason: str = "",
    ) -> ReservationView:
        ctx = self.ctx
        now = ctx.clock()
        current = ctx.get(code)

        def rules() -> Rules:
            return ctx.restaurant(current.restaurant).rules

        change = plan_status_change(current, target, actor, now, expected_version, rules)
        if change is None:
            return current
        view = retrying(lambda: self._write(current, change, actor, now, reason))
        return ctx.changed(view, current)

    def _write(
        self,
        current: ReservationView,
        change: StatusChange,
        actor: Actor,
        now: datetime,
        reason: str,
    ) -> ReservationView:
        target = change.target
        with self.ctx.db.unit_of_work() as uow:
            reservations = uow.reservations
            if not reservations.change_status(
                current.id, current.version, current.status, target, now
            ):
                raise errors.Conflict("The reservation changed while we were updating it")
            if change.releases_tables:
                reservations.release(current.id, forget_tables=False)
            if change.guest_counter is not None:
                guest_id = current.guest.id if current.guest else None
                reservations.bump_guest_counter(guest_id, change.guest_counter, now)
            view = reservations.view_by_id(current.id)
            reservations.record_change(view, actor, target.value, current, now, reason=reason)
            if change.frees_covers:  # last: the counter row is shared
                reservations.add_covers(
                    current.restaurant_id, current.start, -current.party_size, None
                )
        return view

    def confirm_attendance(self, code: str, actor: Actor) -> ReservationView:
        """The guest says they are coming (a reminder's button): noted in the audit
        log and announced to staff; the booking itself does not change."""
        now = self.ctx.clock()
        view = self.ctx.get(code)
        check_attendance_confirmable(view)
        with self.ctx.db.unit_of_work() as uow:
            uow.reservations.record_change(view, actor, "attendance_confirmed", None, now)
        return view
