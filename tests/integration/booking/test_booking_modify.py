"""Modifying a reservation through BookingService, on both backends: a move is one
transaction (a refused move leaves booking, tables, claims and counters as they
were), stale versions are refused, and staff can resize a seated party."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import (
    Actor,
    CreateReservation,
    GuestDetails,
    ModifyReservation,
    WalkIn,
)
from saveit.domain.model import Status
from saveit.store.schema import (
    outbox,
    reservation_log,
    reservation_tables,
    reservations,
    slot_covers,
    table_claims,
)
from tests.support import FakeClock

GUEST = Actor("guest", "web", "webchat")
HOST = Actor("staff", "marta", "dashboard")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid


def book(
    container: Container, start: datetime = DINNER, party: int = 2, phone: str = "600111222"
) -> str:
    return container.booking.create(
        CreateReservation("demo", start, party, GuestDetails(name="Ana", phone=phone)), GUEST
    ).reservation.code


def snapshot(container: Container) -> dict[str, object]:
    """Everything a move could touch."""
    with container.engine.connect() as conn:
        return {
            name: sorted(tuple(r) for r in conn.execute(select(table)).all())
            for name, table in {
                "reservations": reservations,
                "reservation_tables": reservation_tables,
                "table_claims": table_claims,
                "slot_covers": slot_covers,
                "reservation_log": reservation_log,
                "outbox": outbox,
            }.items()
        }


def fill(container: Container, start: datetime, party: int = 2) -> list[str]:
    made = []
    for n in range(10):
        try:
            made.append(book(container, start, party, phone=f"61100000{n}"))
        except errors.SlotTaken:
            return made
    raise AssertionError("more tables than expected")


def test_a_move_to_a_taken_time_changes_nothing_at_all(container: Container, demo: str) -> None:
    code = book(container)
    later = DINNER + timedelta(hours=2)  # 23:00: every table for two is then taken
    assert len(fill(container, later)) == 6
    before = snapshot(container)
    with pytest.raises(errors.SlotTaken) as taken:
        container.booking.modify(ModifyReservation(code, start=later), GUEST)
    assert taken.value.code == "SLOT_TAKEN"
    assert taken.value.data["alternatives"]
    assert snapshot(container) == before
    assert container.booking.get(code).status is Status.CONFIRMED


def test_growing_a_party_past_every_free_table_changes_nothing(
    container: Container, demo: str
) -> None:
    code = book(container, party=4)
    fill(container, DINNER, party=6)  # T7 and T4+T5 go to parties of six
    before = snapshot(container)
    with pytest.raises(errors.SlotTaken):
        container.booking.modify(ModifyReservation(code, party_size=6), GUEST)
    assert snapshot(container) == before


def test_growing_a_party_moves_it_to_a_combination_and_frees_the_old_table(
    container: Container, demo: str
) -> None:
    code = book(container, party=2)
    assert container.booking.get(code).tables == ("T1",)
    book(container, party=6, phone="622222222")  # takes T7, the only single table for six
    grown = container.booking.modify(ModifyReservation(code, party_size=7), GUEST)
    assert grown.tables == ("T4", "T5")
    assert grown.end - grown.start == timedelta(minutes=150)
    with container.engine.connect() as conn:
        held = {
            t
            for (t,) in conn.execute(
                select(table_claims.c.table_id).where(table_claims.c.reservation_id == grown.id)
            )
        }
    assert len(held) == 2
    assert container.booking.get(book(container, phone="633333333")).tables == ("T1",)


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    container: Container, demo: str
) -> None:
    code = book(container)
    container.booking.modify(ModifyReservation(code, notes="birthday", expected_version=1), GUEST)
    before = snapshot(container)
    with pytest.raises(errors.Conflict):
        container.booking.modify(
            ModifyReservation(code, start=DINNER + timedelta(minutes=30), expected_version=1), GUEST
        )
    with pytest.raises(errors.Conflict):
        container.booking.cancel(code, GUEST, expected_version=1)
    with pytest.raises(errors.Conflict):
        container.booking.check_in(code, HOST, expected_version=1)
    assert snapshot(container) == before
    assert container.booking.cancel(code, GUEST, expected_version=2).version == 3


def test_a_cancelled_booking_cannot_be_modified(container: Container, demo: str) -> None:
    code = book(container)
    container.booking.cancel(code, GUEST)
    with pytest.raises(errors.InvalidTransition):
        container.booking.modify(ModifyReservation(code, party_size=3), GUEST)


def test_a_party_size_of_zero_is_refused_not_ignored(container: Container, demo: str) -> None:
    code = book(container)
    with pytest.raises(errors.ValidationFailed):
        container.booking.modify(ModifyReservation(code, party_size=0), GUEST)
    assert container.booking.get(code).party_size == 2


def test_a_move_into_a_time_freed_by_a_cancellation_succeeds(
    container: Container, demo: str
) -> None:
    code = book(container)
    later = DINNER + timedelta(hours=2)
    taken = fill(container, later)
    container.booking.cancel(taken[0], GUEST)
    moved = container.booking.modify(ModifyReservation(code, start=later), GUEST)
    assert moved.start == later
    assert moved.version == 2
    with container.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(table_claims)
                .where(table_claims.c.reservation_id == moved.id)
            ).scalar_one()
            == (90 + 15) // 5
        )


def test_staff_resize_and_reseat_a_party_that_is_already_seated(
    container: Container, demo: str, clock: FakeClock
) -> None:
    code = book(container, party=2)
    clock.now = DINNER + timedelta(minutes=10)
    container.booking.check_in(code, HOST)
    grown = container.booking.modify(ModifyReservation(code, party_size=4), HOST)
    assert (grown.party_size, grown.status, grown.start) == (4, Status.CHECKED_IN, DINNER)
    assert grown.tables == ("T3",)
    # A walk-in starts off the slot grid; staff may still move it to another table.
    walk = container.booking.walk_in(WalkIn("demo", 2, name="Luis"), HOST)
    moved = container.booking.modify(ModifyReservation(walk.code, tables=("T6",)), HOST)
    assert moved.tables == ("T6",)
    # Guests are bound by the cutoff: the booking started already.
    with pytest.raises(errors.TooLateToChange):
        container.booking.modify(ModifyReservation(code, party_size=3), GUEST)
