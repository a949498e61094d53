"""The reservation aggregate: what may happen to a booking, decided without a database.

The booking use cases (:mod:`saveit.booking`) read a reservation, ask this module
whether the change is allowed and what it entails, and then write. Keeping the
rules here means one place answers "may a guest cancel two hours before?" or
"what does a no-show do to the guest's record?", and they are tested in
microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.model import ACTIVE_STATUSES, TRANSITIONS, Rules, Status
from saveit.domain.views import GuestView, ReservationView


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What moving a reservation to ``target`` entails besides the status itself."""

    target: Status
    staff_only: bool
    # The guest's counter this change adds one to (their history for the no-show policy).
    guest_counter: str | None = None
    # Its covers leave the slot's pacing count (a cancellation frees the slot).
    frees_covers: bool = False

    @property
    def releases_tables(self) -> bool:
        return not self.target.holds_tables


STATUS_CHANGES: dict[Status, StatusChange] = {
    change.target: change
    for change in (
        StatusChange(Status.CANCELLED, staff_only=False, frees_covers=True),
        StatusChange(Status.CONFIRMED, staff_only=True),
        StatusChange(Status.CHECKED_IN, staff_only=True, guest_counter="visit_count"),
        StatusChange(Status.NO_SHOW, staff_only=True, guest_counter="no_show_count"),
        StatusChange(Status.COMPLETED, staff_only=True),
    )
}
"""The status changes a booking's staff or guest may ask for, by target status."""


def check_version(current: ReservationView, expected_version: int | None) -> None:
    """Optimistic concurrency: a client that read an older version is told so."""
    if expected_version is not None and expected_version != current.version:
        raise errors.Conflict("The reservation changed since you read it", version=current.version)


def check_cutoff(
    rules: Rules,
    current: ReservationView,
    actor: Actor,
    now: datetime,
    error: type[errors.DomainError],
) -> None:
    """Guests change or cancel online only until ``cancel_cutoff_minutes`` before the
    start; later they call, and staff may do it for them."""
    cutoff = rules.cancel_cutoff_minutes
    if not actor.is_staff and current.start - now < timedelta(minutes=cutoff):
        raise error(
            f"Changes online close {cutoff} minutes before the booking; please call the restaurant",
            cutoff_minutes=cutoff,
        )


def check_changeable(
    rules: Rules, current: ReservationView, actor: Actor, now: datetime, expected: int | None
) -> None:
    """Whether the booking's time, party, tables or notes may change now."""
    check_version(current, expected)
    if current.status not in ACTIVE_STATUSES:
        raise errors.InvalidTransition(
            f"A {current.status.value} reservation cannot be changed",
            status=current.status.value,
        )
    check_cutoff(rules, current, actor, now, errors.TooLateToChange)


def check_table_choice(actor: Actor) -> None:
    if not actor.is_staff:
        raise errors.Forbidden("Only staff choose tables")


def check_walk_in(actor: Actor, party_size: int) -> None:
    if not actor.is_staff:
        raise errors.Forbidden("Walk-ins are seated by staff")
    check_party_size(party_size)


def check_party_size(party_size: int) -> None:
    if not 1 <= party_size <= 1000:
        raise errors.ValidationFailed("party_size must be between 1 and 1000")


def check_new_status(asked: Status) -> None:
    if asked not in {Status.PENDING, Status.CONFIRMED}:
        raise errors.ValidationFailed("A new reservation is pending or confirmed")


def plan_status_change(
    current: ReservationView,
    target: Status,
    actor: Actor,
    now: datetime,
    expected_version: int | None,
    rules: Callable[[], Rules],
) -> StatusChange | None:
    """The change to write, or None when there is nothing to do (cancelling a
    cancelled booking is harmless: retried webhooks, double clicks). ``rules`` is
    asked only for a cancellation's cutoff, so other changes read no configuration."""
    change = STATUS_CHANGES[target]
    if target is Status.CANCELLED:
        if current.status is Status.CANCELLED:
            return None
        if current.status in ACTIVE_STATUSES:
            check_cutoff(rules(), current, actor, now, errors.TooLateToCancel)
    if change.staff_only and not actor.is_staff:
        raise errors.Forbidden("Only staff change a reservation's status")
    check_version(current, expected_version)
    if target not in TRANSITIONS[current.status]:
        raise errors.InvalidTransition(
            f"A {current.status.value} reservation cannot become {target.value}",
            status=current.status.value,
            target=target.value,
        )
    return change


def check_attendance_confirmable(current: ReservationView) -> None:
    """A guest says they are coming: only to a booking still ahead of them."""
    if current.status not in ACTIVE_STATUSES or current.status is Status.CHECKED_IN:
        raise errors.InvalidTransition(
            f"A {current.status.value} reservation cannot be confirmed by the guest",
            status=current.status.value,
        )


def status_for_new(rules: Rules, asked: Status, guest: GuestView | None, actor: Actor) -> Status:
    """The no-show policy: guests past the restaurant's no-show limit book as
    ``pending``, for staff to approve (confirm) or decline. Staff booking for the
    guest have decided already."""
    limit = pending_from(rules, actor)
    if limit is None or guest is None or guest.no_show_count < limit:
        return asked
    return Status.PENDING


def pending_from(rules: Rules, actor: Actor) -> int | None:
    """The no-show count from which a guest's new booking by ``actor`` waits for
    approval (:func:`status_for_new`); None: it never does."""
    return None if actor.is_staff else rules.no_show_approval_after
