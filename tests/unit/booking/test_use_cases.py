"""The booking use cases on in-memory repositories: the rules and the write pattern
in milliseconds. The same cases against SQLite and PostgreSQL (claims under a
unique index, statements per transaction, races) are in ``tests/integration``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from saveit.booking.change import ChangeBooking
from saveit.booking.context import BookingContext
from saveit.booking.create import CreateBooking
from saveit.booking.ports import Configurations, Data
from saveit.booking.queries import Queries
from saveit.booking.status import ChangeStatus
from saveit.booking.walk_in import SeatWalkIn
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, ModifyReservation, WalkIn
from saveit.domain.model import Restaurant, Rules, ServiceHours, Status, Table, WeeklyService
from saveit.domain.views import ReservationView
from tests.support import FakeClock
from tests.unit.booking.memory import MemoryConfigurations, MemoryData

GUEST = Actor("guest", "web", "web")
HOST = Actor("staff", "Marta", "api")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
ANA = GuestDetails(name="Ana", phone="+34600111222")
BEA = GuestDetails(name="Bea", phone="+34600333444")
CRIS = GuestDetails(name="Cris", phone="+34600555666")

RESTAURANT = Restaurant(
    id=1,
    slug="demo",
    name="Demo",
    timezone="Europe/Madrid",
    rules=Rules(cancel_cutoff_minutes=120, no_show_approval_after=1),
    services=tuple(
        WeeklyService(day, ServiceHours(time(20, 0), time(23, 30), "dinner")) for day in range(7)
    ),
    tables=(
        Table(1, "T1", "indoor", 1, 2),
        Table(2, "T2", "indoor", 1, 2),
        Table(3, "T3", "indoor", 3, 6),
    ),
)


@dataclass
class Booking:
    """The use cases as the ``BookingService`` facade wires them."""

    data: MemoryData
    queries: Queries
    create: CreateBooking
    change: ChangeBooking
    status: ChangeStatus
    walk_in: SeatWalkIn
    heard: list[tuple[ReservationView, ReservationView | None]]

    def book(self, guest: GuestDetails = ANA, start: datetime = DINNER, **kw: object) -> str:
        cmd = CreateReservation("demo", start, 2, guest, **kw)  # type: ignore[arg-type]
        return self.create(cmd, GUEST).reservation.code

    def get(self, code: str) -> ReservationView:
        with self.data.reading() as r:
            found = r.reservations.view_by_code(code)
        assert found is not None
        return found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def booking(clock: FakeClock) -> Booking:
    data = MemoryData(RESTAURANT)
    typed_data: Data = data  # the in-memory repositories satisfy the use cases' ports
    configurations: Configurations = MemoryConfigurations(RESTAURANT)
    heard: list[tuple[ReservationView, ReservationView | None]] = []
    ctx = BookingContext(
        typed_data,
        secret=b"unit",
        cache=configurations,
        clock=clock,
        listeners=[lambda now, before: heard.append((now, before))],
    )
    queries = Queries(ctx)
    return Booking(
        data,
        queries,
        CreateBooking(ctx, queries),
        ChangeBooking(ctx, queries),
        ChangeStatus(ctx),
        SeatWalkIn(ctx),
        heard,
    )


def test_a_booking_claims_a_table_and_records_the_change(booking: Booking) -> None:
    code = booking.book()
    made = booking.get(code)
    assert (made.status, made.tables, made.version) == (Status.CONFIRMED, ("T1",), 1)
    state = booking.data.state
    assert {cell for (table, cell) in state.claims if table == 1} == set(
        range(int(DINNER.timestamp()) // 300, int(DINNER.timestamp()) // 300 + (90 + 15) // 5)
    )
    assert [e["type"] for e in state.outbox] == ["reservation.created"]
    assert state.covers == {(1, DINNER): 2}
    assert [(now.code, before) for now, before in booking.heard] == [(code, None)]


def test_a_taken_time_is_refused_with_alternatives_and_writes_nothing(booking: Booking) -> None:
    booking.book(ANA)
    booking.book(BEA)  # the two-tops are taken; the six-top seats three or more
    writes = booking.data.transactions
    with pytest.raises(errors.SlotTaken) as taken:
        booking.book(CRIS)
    alternatives = [datetime.fromisoformat(a) for a in taken.value.data["alternatives"]]
    assert len(alternatives) == 3
    assert all(
        a >= DINNER + timedelta(minutes=105) or a.date() > DINNER.date() for a in alternatives
    )
    assert booking.data.transactions == writes


def test_a_claim_lost_to_a_racing_booking_is_slot_taken_and_leaves_no_trace(
    booking: Booking,
) -> None:
    code = booking.book()
    before = booking.get(code)
    rows = dict(booking.data.state.rows)
    # Free seatings were read, then racing bookings took every cell before the claims.
    booking.data.racing = True
    with pytest.raises(errors.SlotTaken):
        booking.book(BEA, start=DINNER + timedelta(days=1))
    assert booking.data.state.rows == rows
    assert booking.get(code) == before


def test_a_move_keeps_the_table_and_swaps_the_claims(booking: Booking) -> None:
    code = booking.book()
    later = DINNER + timedelta(minutes=30)
    moved = booking.change(ModifyReservation(code, start=later), GUEST)
    assert (moved.start, moved.tables, moved.version) == (later, ("T1",), 2)
    cells = sorted(cell for (_table, cell), rid in booking.data.state.claims.items())
    assert cells[0] * 300 == int(later.timestamp())
    assert booking.data.state.covers == {(1, DINNER): 0, (1, later): 2}
    assert booking.heard[-1][1] is not None


def test_a_move_to_a_taken_time_leaves_the_booking_as_it_was(booking: Booking) -> None:
    code = booking.book()
    later = DINNER + timedelta(hours=2)
    for guest in (BEA, CRIS):
        booking.book(guest, start=later)
    before = booking.get(code)
    with pytest.raises(errors.SlotTaken) as taken:
        booking.change(ModifyReservation(code, start=later), GUEST)
    assert taken.value.data["alternatives"]
    assert booking.get(code) == before


def test_a_guest_cancels_before_the_cutoff_and_frees_the_table(
    booking: Booking, clock: FakeClock
) -> None:
    code = booking.book()
    cancelled = booking.status(code, Status.CANCELLED, GUEST, reason="plans changed")
    assert cancelled.status is Status.CANCELLED
    assert booking.data.state.claims == {}
    assert booking.data.state.covers == {(1, DINNER): 0}
    assert booking.data.state.log[-1]["after"]["reason"] == "plans changed"
    again = booking.status(code, Status.CANCELLED, GUEST)  # a double click
    assert again.version == cancelled.version


def test_a_guest_cannot_cancel_after_the_cutoff_but_staff_can(
    booking: Booking, clock: FakeClock
) -> None:
    code = booking.book()
    clock.now = DINNER - timedelta(minutes=90)
    with pytest.raises(errors.TooLateToCancel):
        booking.status(code, Status.CANCELLED, GUEST)
    with pytest.raises(errors.TooLateToChange):
        booking.change(ModifyReservation(code, party_size=3), GUEST)
    assert booking.status(code, Status.CANCELLED, HOST).status is Status.CANCELLED


def test_a_no_show_counts_against_the_guest_whose_next_booking_waits_for_staff(
    booking: Booking, clock: FakeClock
) -> None:
    code = booking.book()
    with pytest.raises(errors.Forbidden):
        booking.status(code, Status.NO_SHOW, GUEST)
    clock.now = DINNER + timedelta(minutes=30)
    absent = booking.status(code, Status.NO_SHOW, HOST, expected_version=1)
    assert absent.status is Status.NO_SHOW
    assert absent.guest is not None
    assert absent.guest.no_show_count == 1
    assert booking.data.state.claims == {}
    again = booking.get(booking.book(start=DINNER + timedelta(days=2)))
    assert again.status is Status.PENDING


def test_a_walk_in_is_seated_now_and_counts_a_visit(booking: Booking, clock: FakeClock) -> None:
    with pytest.raises(errors.Forbidden):
        booking.walk_in(WalkIn("demo", 2, name="Eva"), GUEST)
    seated = booking.walk_in(WalkIn("demo", 2, name="Eva"), HOST)
    assert (seated.status, seated.source, seated.start) == (Status.CHECKED_IN, "walk_in", clock())
    assert seated.tables == ("T1",)
    assert seated.guest is not None
    assert seated.guest.visit_count == 1
    assert booking.data.state.outbox[-1]["type"] == "reservation.walk_in"


def test_an_idempotent_replay_returns_the_same_booking(booking: Booking) -> None:
    cmd = CreateReservation("demo", DINNER, 2, ANA, idempotency_key="k1")
    first = booking.create(cmd, GUEST)
    again = booking.create(cmd, GUEST)
    assert again.replayed
    assert again.reservation.code == first.reservation.code
    with pytest.raises(errors.Conflict):
        booking.create(CreateReservation("demo", DINNER, 3, ANA, idempotency_key="k1"), GUEST)
