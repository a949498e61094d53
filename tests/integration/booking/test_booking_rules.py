"""Booking rules as a user meets them through BookingService, on both backends:
idempotent retries, the guests' cancellation cutoff, SLOT_TAKEN alternatives,
pacing, daylight-saving nights, and refusals that write nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import Status
from saveit.store.schema import guests, outbox, reservation_log, reservations
from tests.support import FakeClock

MADRID = ZoneInfo("Europe/Madrid")
GUEST = Actor("guest", "web", "webchat")
HOST = Actor("staff", "marta", "dashboard")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid


def madrid(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=MADRID, fold=fold).astimezone(UTC)  # type: ignore[misc]


def solo(container: Container, hours: tuple[str, str] = ("21:00", "02:00"), **rules: Any) -> str:
    """One table, a late service (21:00-02:00) every day, 60-minute stays, no buffer."""
    doc = {
        "slug": "solo",
        "name": "Solo",
        "timezone": "Europe/Madrid",
        "rules": {
            "turn_times": [{"max_party": 8, "minutes": 60}],
            "buffer_minutes": 0,
            "min_lead_minutes": 0,
            "max_days_ahead": 60,
            **rules,
        },
        "services": [{"name": "late", "opens": hours[0], "closes": hours[1]}],
        "tables": [{"code": "T1", "area": "indoor", "min_capacity": 1, "max_capacity": 8}],
    }
    apply_spec(container.engine, parse_document(doc))
    return "solo"


def create(
    container: Container, start: datetime, party: int = 2, slug: str = "demo", **kw: Any
) -> str:
    phone = kw.pop("phone", "600111222")
    actor = kw.pop("actor", GUEST)
    return container.booking.create(
        CreateReservation(slug, start, party, GuestDetails(name="Ana", phone=phone), **kw), actor
    ).reservation.code


def counts(container: Container) -> tuple[int, ...]:
    with container.engine.connect() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (reservations, guests, reservation_log, outbox)
        )


def test_an_idempotent_retry_returns_the_same_booking_and_writes_once(
    container: Container, demo: str, clock: FakeClock
) -> None:
    cmd = CreateReservation(
        "demo", DINNER, 2, GuestDetails(name="Ana", phone="600111222"), idempotency_key="abc-1"
    )
    first = container.booking.create(cmd, GUEST)
    assert counts(container) == (1, 1, 1, 1)
    again = container.booking.create(cmd, GUEST)
    assert (again.replayed, again.reservation.code, first.replayed) == (
        True,
        first.reservation.code,
        False,
    )
    clock.advance(days=3)  # even after the time has passed, a replay is just a replay
    assert container.booking.create(cmd, GUEST).reservation.code == first.reservation.code
    assert counts(container) == (1, 1, 1, 1)
    clock.advance(days=-3)
    with pytest.raises(errors.Conflict):
        container.booking.create(
            CreateReservation("demo", DINNER, 3, cmd.guest, idempotency_key="abc-1"), GUEST
        )
    assert counts(container) == (1, 1, 1, 1)


def test_a_refused_request_does_not_burn_its_idempotency_key(
    container: Container, demo: str
) -> None:
    solo(container)
    start = madrid(2026, 6, 3, 22, 0)
    create(container, start, slug="solo", phone="699999999")
    cmd = CreateReservation("solo", start, 2, GuestDetails(phone="600111222"), idempotency_key="k")
    with pytest.raises(errors.SlotTaken):
        container.booking.create(cmd, GUEST)
    container.booking.cancel(container.booking.list_for_day("solo", date(2026, 6, 3))[0].code, HOST)
    made = container.booking.create(cmd, GUEST)
    assert made.replayed is False


@pytest.mark.parametrize(
    ("minutes_before", "guest_may"), [(121, True), (120, True), (119, False), (0, False)]
)
def test_guests_cancel_up_to_the_cutoff_staff_at_any_time(
    container: Container, demo: str, clock: FakeClock, minutes_before: int, guest_may: bool
) -> None:
    code = create(container, DINNER)
    clock.now = DINNER - timedelta(minutes=minutes_before)
    if guest_may:
        assert container.booking.cancel(code, GUEST).status is Status.CANCELLED
        return
    with pytest.raises(errors.TooLateToCancel) as late:
        container.booking.cancel(code, GUEST)
    assert late.value.data == {"cutoff_minutes": 120}
    assert container.booking.get(code).status is Status.CONFIRMED
    assert container.booking.cancel(code, HOST).status is Status.CANCELLED


def test_slot_taken_offers_the_nearest_free_times_of_the_same_night_first(
    container: Container, demo: str
) -> None:
    solo(container)
    taken = madrid(2026, 6, 5, 23, 0)
    create(container, taken, slug="solo")
    with pytest.raises(errors.SlotTaken) as refused:
        create(container, taken + timedelta(minutes=15), slug="solo", phone="622222222")
    offered = [datetime.fromisoformat(a) for a in refused.value.data["alternatives"]]
    local = [a.astimezone(MADRID).strftime("%d %H:%M") for a in offered]
    assert local == ["06 00:00", "06 00:15", "05 22:00"]  # 45, 60 and 75 minutes away


def test_slot_taken_after_midnight_looks_at_the_same_night_not_the_next_day(
    container: Container, demo: str
) -> None:
    solo(container)
    after_midnight = madrid(2026, 6, 6, 0, 30)  # the night of Friday 5 June
    create(container, after_midnight, slug="solo")
    with pytest.raises(errors.SlotTaken) as refused:
        create(container, after_midnight, slug="solo", phone="622222222")
    local = [
        datetime.fromisoformat(a).astimezone(MADRID).strftime("%d %H:%M")
        for a in refused.value.data["alternatives"]
    ]
    assert local == ["05 23:30", "06 01:30", "05 23:15"]


def test_slot_taken_moves_to_the_next_days_when_the_night_is_full(
    container: Container, demo: str
) -> None:
    solo(container, turn_times=[{"max_party": 8, "minutes": 300}])  # one party fills a night
    create(container, madrid(2026, 6, 5, 21, 0), slug="solo")
    with pytest.raises(errors.SlotTaken) as refused:
        create(container, madrid(2026, 6, 5, 22, 0), slug="solo", phone="622222222")
    local = [
        datetime.fromisoformat(a).astimezone(MADRID).strftime("%d %H:%M")
        for a in refused.value.data["alternatives"]
    ]
    # Nothing is left on the 5th, so the next night's starts nearest 22:00 come next.
    assert local == ["06 22:00", "06 21:45", "06 22:15"]


def test_pacing_caps_the_covers_that_start_together(container: Container, demo: str) -> None:
    apply_spec(container.engine, parse_document(_paced_demo()))
    create(container, DINNER, 2, slug="paced")
    second = create(container, DINNER, 2, slug="paced", phone="622222222")
    _, slots = container.booking.availability("paced", date(2026, 6, 3), 2)
    assert DINNER not in {s.start for s in slots}  # tables are free, covers are not
    assert DINNER + timedelta(minutes=15) in {s.start for s in slots}
    with pytest.raises(errors.SlotTaken) as refused:
        create(container, DINNER, 2, slug="paced", phone="633333333")  # 2 + 2 + 2 > 4
    assert (DINNER + timedelta(minutes=15)).isoformat() in refused.value.data["alternatives"]
    container.booking.cancel(second, GUEST)  # its covers are given back at once
    _, slots = container.booking.availability("paced", date(2026, 6, 3), 2)
    assert DINNER in {s.start for s in slots}
    create(container, DINNER, 2, slug="paced", phone="633333333")


def _paced_demo() -> dict[str, Any]:
    from tests.support import demo_document

    doc = demo_document(slug="paced")
    doc["rules"] = {**doc["rules"], "pacing_covers_per_slot": 4}
    return doc


@pytest.mark.parametrize(
    ("start", "party", "actor", "error"),
    [
        (DINNER - timedelta(hours=2), 2, GUEST, errors.OutsideOpeningHours),  # 19:00
        (DINNER + timedelta(minutes=5), 2, GUEST, errors.OutsideOpeningHours),  # off the grid
        (datetime(2026, 6, 1, 8, 0, tzinfo=UTC), 2, HOST, errors.OutsideOpeningHours),
        (datetime(2026, 5, 31, 19, 0, tzinfo=UTC), 2, HOST, errors.TooSoon),  # the past
        (DINNER + timedelta(days=61), 2, GUEST, errors.TooFarAhead),
        (DINNER, 9, GUEST, errors.PartyTooLarge),
        (DINNER, 9, HOST, errors.NoSuitableTable),
    ],
)
def test_refused_requests_name_the_rule_and_write_nothing(
    container: Container,
    demo: str,
    start: datetime,
    party: int,
    actor: Actor,
    error: type[errors.DomainError],
) -> None:
    with pytest.raises(error):
        create(container, start, party, actor=actor)
    assert counts(container) == (0, 0, 0, 0)


def test_staff_may_book_inside_the_lead_time_and_above_the_online_limit(
    container: Container, demo: str
) -> None:
    demo_big = create(container, DINNER, 8, actor=HOST, phone="622222222")
    assert container.booking.get(demo_big).tables == ("T4", "T5")  # T7 seats six at most


@pytest.mark.parametrize(("minutes_ahead", "guest_may"), [(60, True), (59, False)])
def test_guests_book_at_least_the_lead_time_ahead_staff_later(
    container: Container, demo: str, clock: FakeClock, minutes_ahead: int, guest_may: bool
) -> None:
    clock.now = DINNER - timedelta(minutes=minutes_ahead)
    if guest_may:
        assert create(container, DINNER)
        return
    with pytest.raises(errors.TooSoon) as soon:
        create(container, DINNER)
    assert soon.value.data == {"min_lead_minutes": 60}
    assert create(container, DINNER, actor=HOST)


def test_the_repeated_autumn_hour_is_two_bookable_instants(
    container: Container, demo: str, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    solo(container, ("22:00", "03:00"))
    first = madrid(2026, 10, 25, 2, 0)  # 02:00 CEST = 00:00 UTC
    second = madrid(2026, 10, 25, 2, 0, fold=1)  # 02:00 CET = 01:00 UTC
    assert second - first == timedelta(hours=1)
    _, slots = container.booking.availability("solo", date(2026, 10, 24), 2)
    assert {first, second} <= {s.start for s in slots}
    assert len(slots) == 24  # 22:00 CEST to 03:00 CET is six real hours
    codes = [
        create(container, at, slug="solo", phone=f"60011122{i}")
        for i, at in enumerate((first, second))
    ]
    listed = container.booking.list_for_day("solo", date(2026, 10, 24))
    assert [v.code for v in listed] == codes
    assert [v.end - v.start for v in listed] == [timedelta(minutes=60)] * 2


def test_the_missing_spring_hour_is_never_offered_nor_accepted(
    container: Container, demo: str, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    solo(container, ("22:00", "03:00"))
    _, slots = container.booking.availability("solo", date(2026, 3, 28), 2)
    local = [s.start.astimezone(MADRID).strftime("%d %H:%M") for s in slots]
    assert local[0] == "28 22:00"
    assert local[-1] == "29 01:45"
    assert len(slots) == 16  # four real hours
    with pytest.raises(errors.OutsideOpeningHours):
        create(container, madrid(2026, 3, 29, 2, 30), slug="solo")  # read as 03:30 CEST
