"""The booking engine's writes: atomic moves, freed tables, audit rows and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

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
from saveit.store.schema import outbox, reservation_log, reservations, table_claims
from tests.support import FakeClock

GUEST = Actor("guest", "web", "whatsapp")
HOST = Actor("staff", "Marta", "api")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid


def book(container: Container, start: datetime = DINNER, party: int = 2, **kw: object) -> str:
    details = GuestDetails(name="Ana", phone=str(kw.pop("phone", "600111222")))
    made = container.booking.create(
        CreateReservation("demo", start, party, details, **kw),  # type: ignore[arg-type]
        GUEST,
    )
    return made.reservation.code


def claims_of(container: Container, code: str) -> list[tuple[int, int]]:
    with container.engine.connect() as conn:
        rid = conn.execute(select(reservations.c.id).where(reservations.c.code == code)).scalar()
        return sorted(
            (r.table_id, r.cell)
            for r in conn.execute(select(table_claims).where(table_claims.c.reservation_id == rid))
        )


def count(container: Container, table: object) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def fill_all_tables_for_two(container: Container, start: datetime) -> int:
    """Book pairs at ``start`` until nothing is left; returns how many were made."""
    for n in range(10):
        try:
            book(container, start, 2, phone=f"61100000{n}")
        except errors.SlotTaken:
            return n
    raise AssertionError("the demo restaurant has fewer tables than that")


def test_a_move_to_a_taken_time_leaves_the_booking_exactly_as_it_was(
    container: Container, demo: str
) -> None:
    code = book(container)
    before = container.booking.get(code)
    claims_before = claims_of(container, code)
    later = DINNER + timedelta(hours=2)  # 23:00, after this booking's stay
    assert fill_all_tables_for_two(container, later) == 6

    with pytest.raises(errors.SlotTaken) as taken:
        container.booking.modify(ModifyReservation(code, start=later), GUEST)

    assert taken.value.data["alternatives"]
    after = container.booking.get(code)
    assert (after.start, after.tables, after.version, after.status) == (
        before.start,
        before.tables,
        before.version,
        Status.CONFIRMED,
    )
    assert claims_of(container, code) == claims_before


def test_a_move_to_a_free_time_swaps_the_claims_and_keeps_the_table(
    container: Container, demo: str
) -> None:
    code = book(container)
    moved = container.booking.modify(
        ModifyReservation(code, start=DINNER + timedelta(minutes=30)), GUEST
    )
    assert moved.tables == ("T1",)
    assert moved.version == 2
    cells = [cell for _, cell in claims_of(container, code)]
    assert min(cells) * 300 == int((DINNER + timedelta(minutes=30)).timestamp())
    assert len(cells) == (90 + 15) // 5


def test_cancelling_frees_the_table_at_once(container: Container, demo: str) -> None:
    assert fill_all_tables_for_two(container, DINNER) == 6  # T1..T6 seat two
    with pytest.raises(errors.SlotTaken):
        book(container, phone="699999999")
    first = container.booking.list_for_day("demo", DINNER.date())[0]
    container.booking.cancel(first.code, GUEST, reason="plans changed")
    assert claims_of(container, first.code) == []
    assert container.booking.get(book(container, phone="699999999")).tables == first.tables


def test_every_change_writes_one_audit_row_and_one_event_in_its_transaction(
    container: Container, demo: str, clock: FakeClock
) -> None:
    code = book(container)
    container.booking.modify(ModifyReservation(code, party_size=3), GUEST)
    clock.advance(days=2, hours=10)  # 2026-06-03 19:00Z: the booking's start
    container.booking.check_in(code, HOST)
    container.booking.complete(code, HOST)
    with container.engine.connect() as conn:
        rid = conn.execute(select(reservations.c.id).where(reservations.c.code == code)).scalar()
        log = conn.execute(
            select(reservation_log)
            .where(reservation_log.c.reservation_id == rid)
            .order_by(reservation_log.c.id)
        ).all()
        events = conn.execute(select(outbox.c.type, outbox.c.payload).order_by(outbox.c.id)).all()
    assert [r.action for r in log] == ["created", "modified", "checked_in", "completed"]
    assert [r.actor for r in log] == ["guest:web", "guest:web", "staff:Marta", "staff:Marta"]
    assert log[0].channel == "whatsapp"
    assert log[0].before is None
    assert (log[1].before["party_size"], log[1].after["party_size"]) == (2, 3)
    assert [e.type for e in events] == [
        "reservation.created",
        "reservation.modified",
        "reservation.checked_in",
        "reservation.completed",
    ]
    assert events[2].payload["reservation"]["status"] == "checked_in"
    assert claims_of(container, code) == []  # a completed party frees its table


def test_a_failed_write_leaves_no_audit_row_and_no_event(container: Container, demo: str) -> None:
    fill_all_tables_for_two(container, DINNER)
    logged, queued = count(container, reservation_log), count(container, outbox)
    with pytest.raises(errors.SlotTaken):
        book(container, phone="699999999")
    assert (count(container, reservation_log), count(container, outbox)) == (logged, queued)


@pytest.mark.parametrize(
    "statement", ["UPDATE reservation_log SET actor = 'x'", "DELETE FROM reservation_log"]
)
def test_the_reservation_log_is_append_only(
    container: Container, demo: str, statement: str
) -> None:
    book(container)
    with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
        conn.execute(text(statement))
    assert count(container, reservation_log) == 1


def test_guests_cannot_cancel_inside_the_cutoff_but_staff_can(
    container: Container, demo: str, clock: FakeClock
) -> None:
    code = book(container)
    clock.now = DINNER - timedelta(minutes=119)
    with pytest.raises(errors.TooLateToCancel):
        container.booking.cancel(code, GUEST)
    with pytest.raises(errors.TooLateToChange):
        container.booking.modify(ModifyReservation(code, party_size=3), GUEST)
    assert container.booking.cancel(code, HOST).status is Status.CANCELLED


def test_a_stale_version_is_refused_and_changes_nothing(container: Container, demo: str) -> None:
    code = book(container)
    container.booking.modify(ModifyReservation(code, notes="window seat"), GUEST)
    with pytest.raises(errors.Conflict):
        container.booking.modify(ModifyReservation(code, party_size=4, expected_version=1), GUEST)
    assert container.booking.get(code).party_size == 2


def test_status_changes_follow_the_life_cycle(container: Container, demo: str) -> None:
    code = book(container)
    container.booking.cancel(code, GUEST)
    with pytest.raises(errors.InvalidTransition):
        container.booking.check_in(code, HOST)
    with pytest.raises(errors.Forbidden):
        container.booking.no_show(book(container, phone="622222222"), GUEST)


def test_visits_and_no_shows_count_against_the_guest(
    container: Container, demo: str, clock: FakeClock
) -> None:
    first = book(container)
    second = book(container, DINNER + timedelta(days=1))
    clock.now = DINNER
    container.booking.check_in(first, HOST)
    clock.now = DINNER + timedelta(days=1, minutes=30)
    guest = container.booking.no_show(second, HOST).guest
    assert guest is not None
    assert (guest.phone, guest.visit_count, guest.no_show_count) == ("+34600111222", 1, 1)
    assert claims_of(container, second) == []


def test_a_walk_in_is_seated_now_on_a_free_table(
    container: Container, demo: str, clock: FakeClock
) -> None:
    fill_all_tables_for_two(container, DINNER + timedelta(minutes=15))
    clock.now = DINNER
    seated = container.booking.walk_in(WalkIn("demo", 4, name="Luis"), HOST)
    assert (seated.status, seated.source, seated.start) == (Status.CHECKED_IN, "walk_in", DINNER)
    assert seated.tables == ("T7",)  # the tables for up to four are booked from 21:15
    with pytest.raises(errors.SlotTaken):  # T7 needs at least four
        container.booking.walk_in(WalkIn("demo", 2), HOST)


def test_an_idempotent_replay_returns_the_same_booking(container: Container, demo: str) -> None:
    first = container.booking.create(
        CreateReservation(
            "demo", DINNER, 2, GuestDetails(phone="600111222"), idempotency_key="k-1"
        ),
        GUEST,
    )
    again = container.booking.create(
        CreateReservation(
            "demo", DINNER, 2, GuestDetails(phone="600111222"), idempotency_key="k-1"
        ),
        GUEST,
    )
    assert (again.replayed, again.reservation.code) == (True, first.reservation.code)
    assert count(container, reservations) == 1
    with pytest.raises(errors.Conflict):
        container.booking.create(
            CreateReservation(
                "demo", DINNER, 4, GuestDetails(phone="600111222"), idempotency_key="k-1"
            ),
            GUEST,
        )


def test_a_table_is_offered_again_only_once_the_stay_and_its_buffer_are_over(
    container: Container, demo: str
) -> None:
    """A create picks its table from the claims as they stand: a stay is 90 min
    for two here, and the table stays blocked for the 15-min buffer after it."""
    assert container.booking.get(book(container)).tables == ("T1",)
    in_buffer = book(container, DINNER + timedelta(minutes=90), phone="611000001")
    assert container.booking.get(in_buffer).tables == ("T2",)
    after_buffer = book(container, DINNER + timedelta(minutes=105), phone="611000002")
    assert container.booking.get(after_buffer).tables == ("T1",)
    overlapping = book(container, DINNER - timedelta(minutes=60), phone="611000003")
    assert container.booking.get(overlapping).tables == ("T2",)  # T2 is free until 22:30
