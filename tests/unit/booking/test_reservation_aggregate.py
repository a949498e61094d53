"""The reservation aggregate's rules, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.model import Rules, Status
from saveit.domain.reservation import (
    STATUS_CHANGES,
    check_attendance_confirmable,
    check_changeable,
    check_new_status,
    check_table_choice,
    check_walk_in,
    plan_status_change,
    status_for_new,
)
from saveit.domain.views import GuestView, ReservationView

GUEST = Actor("guest", "web", "web")
HOST = Actor("staff", "Marta", "api")
START = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)
RULES = Rules(cancel_cutoff_minutes=120, no_show_approval_after=2)


def booking(status: Status = Status.CONFIRMED, no_shows: int = 0) -> ReservationView:
    guest = GuestView(7, "Ana", "+34600111222", None, "es", 1, no_shows)
    return ReservationView(
        1, "ABCD2345", 1, "demo", guest, 2, START, START + timedelta(minutes=90), 15,
        ("T1",), status, "web", "", START, START, 3,
    )  # fmt: skip


def never() -> Rules:
    raise AssertionError("the rules were read")


def test_a_guest_cancels_until_the_cutoff_and_not_after() -> None:
    early = START - timedelta(minutes=121)
    change = plan_status_change(booking(), Status.CANCELLED, GUEST, early, None, lambda: RULES)
    assert change is not None
    assert change.frees_covers
    assert change.releases_tables
    late = START - timedelta(minutes=119)
    with pytest.raises(errors.TooLateToCancel) as refused:
        plan_status_change(booking(), Status.CANCELLED, GUEST, late, None, lambda: RULES)
    assert refused.value.data == {"cutoff_minutes": 120}


def test_staff_cancel_after_the_cutoff() -> None:
    late = START - timedelta(minutes=5)
    assert plan_status_change(booking(), Status.CANCELLED, HOST, late, None, lambda: RULES)


def test_cancelling_twice_is_nothing_to_do_and_reads_no_rules() -> None:
    cancelled = booking(Status.CANCELLED)
    assert plan_status_change(cancelled, Status.CANCELLED, GUEST, START, None, never) is None


@pytest.mark.parametrize(
    "target", [Status.CONFIRMED, Status.CHECKED_IN, Status.NO_SHOW, Status.COMPLETED]
)
def test_only_staff_change_the_other_statuses(target: Status) -> None:
    with pytest.raises(errors.Forbidden):
        plan_status_change(booking(), target, GUEST, START, None, never)


def test_a_stale_version_is_a_conflict() -> None:
    with pytest.raises(errors.Conflict) as stale:
        plan_status_change(booking(), Status.NO_SHOW, HOST, START, 2, never)
    assert stale.value.data == {"version": 3}


def test_the_life_cycle_is_followed() -> None:
    with pytest.raises(errors.InvalidTransition):
        plan_status_change(booking(Status.CANCELLED), Status.CHECKED_IN, HOST, START, None, never)
    with pytest.raises(errors.InvalidTransition):
        plan_status_change(booking(Status.CONFIRMED), Status.COMPLETED, HOST, START, None, never)
    seated = plan_status_change(booking(), Status.CHECKED_IN, HOST, START, None, never)
    assert seated is not None
    assert not seated.releases_tables


def test_visits_and_no_shows_count_on_the_guest() -> None:
    assert STATUS_CHANGES[Status.CHECKED_IN].guest_counter == "visit_count"
    assert STATUS_CHANGES[Status.NO_SHOW].guest_counter == "no_show_count"
    assert STATUS_CHANGES[Status.NO_SHOW].releases_tables
    assert not STATUS_CHANGES[Status.NO_SHOW].frees_covers


def test_the_no_show_policy_makes_repeat_no_shows_wait_for_staff() -> None:
    regular, absent = booking().guest, booking(no_shows=2).guest
    assert status_for_new(RULES, Status.CONFIRMED, regular, GUEST) is Status.CONFIRMED
    assert status_for_new(RULES, Status.CONFIRMED, absent, GUEST) is Status.PENDING
    assert status_for_new(RULES, Status.CONFIRMED, absent, HOST) is Status.CONFIRMED
    assert status_for_new(Rules(), Status.CONFIRMED, absent, GUEST) is Status.CONFIRMED
    assert status_for_new(RULES, Status.CONFIRMED, None, GUEST) is Status.CONFIRMED


def test_changes_close_at_the_cutoff_for_guests_only() -> None:
    late = START - timedelta(minutes=30)
    with pytest.raises(errors.TooLateToChange):
        check_changeable(RULES, booking(), GUEST, late, None)
    check_changeable(RULES, booking(), HOST, late, None)
    with pytest.raises(errors.InvalidTransition):
        check_changeable(RULES, booking(Status.COMPLETED), HOST, late, None)
    with pytest.raises(errors.Conflict):
        check_changeable(RULES, booking(), HOST, late, 1)


def test_staff_only_choices() -> None:
    with pytest.raises(errors.Forbidden):
        check_table_choice(GUEST)
    check_table_choice(HOST)
    with pytest.raises(errors.Forbidden):
        check_walk_in(GUEST, 2)
    with pytest.raises(errors.ValidationFailed):
        check_walk_in(HOST, 0)
    with pytest.raises(errors.ValidationFailed):
        check_new_status(Status.CHECKED_IN)


def test_a_guest_confirms_attendance_only_of_a_booking_ahead() -> None:
    check_attendance_confirmable(booking(Status.PENDING))
    for status in (Status.CHECKED_IN, Status.CANCELLED):
        with pytest.raises(errors.InvalidTransition):
            check_attendance_confirmable(replace(booking(), status=status))
