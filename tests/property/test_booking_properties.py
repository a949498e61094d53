"""Property-based: whatever guests do, no overlap appears and no booking is lost,
and what availability offers, create accepts."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.availability import cells
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, ModifyReservation
from saveit.domain.model import Status
from saveit.domain.schedule import grid_starts
from saveit.store.database import create_db_engine
from saveit.store.reservations import count_overlaps
from saveit.store.schema import reservation_tables, reservations, table_claims
from tests.conftest import _empty_postgres
from tests.support import FakeClock

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
DAYS = (date(2026, 6, 3), date(2026, 6, 4))
GUEST = Actor("guest", "prop", "web")
SMALL = {
    "slug": "small",
    "name": "Small",
    "timezone": "Europe/Madrid",
    "rules": {
        "turn_times": [{"max_party": 2, "minutes": 60}, {"max_party": 8, "minutes": 105}],
        "buffer_minutes": 10,
        "min_lead_minutes": 30,
        "max_party_size": 8,
        "cancel_cutoff_minutes": 0,
    },
    "services": [
        {"name": "lunch", "opens": "13:00", "closes": "15:00"},
        {"name": "late", "opens": "21:00", "closes": "01:00"},
    ],
    "tables": [
        {"code": "A", "area": "indoor", "min_capacity": 1, "max_capacity": 2},
        {"code": "B", "area": "indoor", "min_capacity": 1, "max_capacity": 4},
        {"code": "C", "area": "terrace", "min_capacity": 2, "max_capacity": 4},
    ],
    "combinations": [{"code": "B+C", "tables": ["B", "C"], "min_capacity": 5, "max_capacity": 8}],
}


class Fresh:
    """Hands out an empty, configured database for every hypothesis example."""

    def __init__(self, url: str, template: Path | None) -> None:
        self.url, self.template = url, template

    def __call__(self, clock: FakeClock, document: dict[str, object] = SMALL) -> BookingService:
        if self.template is not None:
            target = Path(self.url.removeprefix("sqlite:///"))
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copy(self.template, target)
        else:
            _empty_postgres(self.url)
        engine = create_db_engine(self.url, pool_size=2)
        apply_spec(engine, parse_document(document))
        return BookingService(engine, secret=b"prop", clock=clock)


@pytest.fixture
def fresh(db_url: str, request: pytest.FixtureRequest) -> Fresh:
    template = request.getfixturevalue("sqlite_template") if db_url.startswith("sqlite") else None
    return Fresh(db_url, template)


def starts_of(service: BookingService) -> list[datetime]:
    restaurant = service.restaurant("small")
    return [s for day in DAYS for s in grid_starts(restaurant, day)]


def check_invariants(
    service: BookingService,
    expected: dict[str, Status],
    shapes: dict[str, tuple[datetime, int]] | None = None,
) -> None:
    with service.reading() as conn:
        assert count_overlaps(conn) == 0
        rows = conn.execute(select(reservations)).all()
        held = {(r.table_id, r.cell, r.reservation_id) for r in conn.execute(select(table_claims))}
        seated = conn.execute(select(reservation_tables)).all()
    by_code = {r.code: r for r in rows}
    assert set(by_code) == set(expected)  # nothing lost, nothing invented
    tables_of: dict[int, set[int]] = {}
    for link in seated:
        tables_of.setdefault(link.reservation_id, set()).add(link.table_id)
    wanted_claims = set()
    for code, status in expected.items():
        row = by_code[code]
        assert row.status == status.value
        if shapes is not None:  # a refused move left the booking where it was
            assert (row.start_at, row.party_size) == shapes[code]
        if status.holds_tables:
            assert tables_of.get(row.id), f"{code} is {status} but has no table"
            span = cells(row.start_at, row.end_at, row.buffer_minutes)
            wanted_claims |= {(t, c, row.id) for t in tables_of[row.id] for c in span}
    assert held == wanted_claims  # claims are exactly the active stays, nothing stale


operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 200), st.integers(1, 8)),
        st.tuples(st.just("modify"), st.integers(0, 50), st.integers(0, 200), st.integers(1, 8)),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_creates_moves_and_cancels_never_overlap_or_lose_a_booking(
    fresh: Fresh, ops: list[tuple[object, ...]]
) -> None:
    service = fresh(FakeClock(NOW))
    starts = starts_of(service)
    expected: dict[str, Status] = {}
    shapes: dict[str, tuple[datetime, int]] = {}
    try:
        for op in ops:
            codes = sorted(expected)
            try:
                if op[0] == "create":
                    _, at, party = op
                    made = service.create(
                        CreateReservation(
                            "small",
                            starts[int(at) % len(starts)],
                            int(party),  # type: ignore[call-overload]
                            GuestDetails(name="P", phone=f"+3460000{len(expected):04d}"),
                        ),
                        GUEST,
                    )
                    expected[made.reservation.code] = Status.CONFIRMED
                    shapes[made.reservation.code] = (made.reservation.start, int(party))  # type: ignore[call-overload]
                elif op[0] == "modify" and codes:
                    _, which, at, party = op
                    code = codes[int(which) % len(codes)]  # type: ignore[call-overload]
                    moved = service.modify(
                        ModifyReservation(
                            code,
                            start=starts[int(at) % len(starts)],  # type: ignore[call-overload]
                            party_size=int(party),
                        ),  # type: ignore[call-overload]
                        GUEST,
                    )
                    shapes[code] = (moved.start, moved.party_size)
                elif op[0] == "cancel" and codes:
                    code = codes[int(op[1]) % len(codes)]  # type: ignore[call-overload]
                    service.cancel(code, GUEST)
                    expected[code] = Status.CANCELLED
            except (errors.SlotTaken, errors.InvalidTransition, errors.NoSuitableTable):
                pass
            check_invariants(service, expected, shapes)
    finally:
        service.engine.dispose()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    party=st.integers(1, 10),
    days_ahead=st.integers(-1, 70),
    minutes_into_day=st.integers(0, 24 * 60 - 1),
    lead=st.sampled_from([0, 45, 120, 24 * 60]),
    horizon=st.integers(0, 60),
    max_party=st.integers(1, 8),
    staff=st.booleans(),
    pick=st.integers(0, 10_000),
)
def test_what_availability_offers_create_accepts(
    fresh: Fresh,
    party: int,
    days_ahead: int,
    minutes_into_day: int,
    lead: int,
    horizon: int,
    max_party: int,
    staff: bool,
    pick: int,
) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 0, 0, tzinfo=UTC) + timedelta(minutes=minutes_into_day))
    rules = {
        **SMALL["rules"],
        "min_lead_minutes": lead,
        "max_days_ahead": horizon,  # type: ignore[dict-item]
        "max_party_size": max_party,
    }
    service = fresh(clock, {**SMALL, "rules": rules})
    actor = Actor("staff", "prop", "api") if staff else GUEST
    try:
        day = clock.now.date() + timedelta(days=days_ahead)
        _, slots = service.availability("small", day, party, staff=staff)
        for slot in slots[pick % max(len(slots), 1) :][:3]:
            made = service.create(
                CreateReservation("small", slot.start, party, GuestDetails(phone="600111222")),
                actor,
            )
            assert made.reservation.start == slot.start
            service.cancel(made.reservation.code, actor)  # leave the table free for the next
    finally:
        service.engine.dispose()
