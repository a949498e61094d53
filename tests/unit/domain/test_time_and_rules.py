"""Opening hours, daylight saving and booking rules, on the pure domain."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from saveit.domain import errors
from saveit.domain.availability import (
    Occupancy,
    bookable_starts,
    check_rules,
    end_of,
    free_seatings,
    pacing_allows,
    seatings,
)
from saveit.domain.model import (
    Booked,
    Combination,
    Restaurant,
    Rules,
    ServiceHours,
    SpecialDate,
    Table,
    TurnTime,
    WeeklyService,
)
from saveit.domain.schedule import business_day_of, grid_starts

MADRID = ZoneInfo("Europe/Madrid")
LATE = ServiceHours(time(20, 0), time(3, 0), "late")
LUNCH = ServiceHours(time(13, 0), time(16, 0), "lunch")
TABLES = (
    Table(1, "T1", "indoor", 1, 2),
    Table(2, "T2", "terrace", 1, 2),
    Table(3, "T3", "indoor", 2, 4),
    Table(4, "T4", "indoor", 2, 4),
)
COMBO = Combination(9, "T3+T4", (3, 4), 5, 8)


def restaurant(**changes: object) -> Restaurant:
    base = Restaurant(
        id=1,
        slug="late",
        name="Late",
        timezone="Europe/Madrid",
        rules=Rules(
            turn_times=(TurnTime(2, 90), TurnTime(4, 120), TurnTime(1000, 150)),
            min_lead_minutes=60,
            max_days_ahead=30,
            max_party_size=6,
        ),
        services=tuple(WeeklyService(d, h) for d in range(7) for h in (LUNCH, LATE)),
        tables=TABLES,
        combinations=(COMBO,),
    )
    return Restaurant(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


def local(value: datetime) -> datetime:
    return value.astimezone(MADRID)


def late_starts(r: Restaurant, day: date) -> list[datetime]:
    return [s for s in grid_starts(r, day) if local(s).hour >= 20 or local(s).hour < 4]


def test_spring_forward_night_never_offers_the_missing_hour() -> None:
    starts = late_starts(restaurant(), date(2026, 3, 28))  # clocks jump 02:00 -> 03:00
    wall = [local(s).strftime("%d %H:%M") for s in starts]
    assert wall[0] == "28 20:00"
    assert wall[-1] == "29 01:45"  # 03:00 CEST is closing time
    assert not [w for w in wall if w.startswith("29 02")]
    assert len(starts) == 24  # six real hours of 15-minute starts


def test_fall_back_night_offers_the_repeated_hour_twice_with_distinct_instants() -> None:
    starts = late_starts(restaurant(), date(2026, 10, 24))  # clocks go 03:00 -> 02:00
    repeated = [s for s in starts if local(s).strftime("%d %H") == "25 02"]
    assert len(repeated) == 8
    assert {local(s).utcoffset() for s in repeated} == {timedelta(hours=2), timedelta(hours=1)}
    assert len(set(repeated)) == 8
    assert len(starts) == 32  # eight real hours


def test_a_stay_across_the_spring_gap_lasts_its_real_duration() -> None:
    r = restaurant()
    start = datetime(2026, 3, 29, 1, 30, tzinfo=MADRID).astimezone(UTC)
    end = end_of(r, start, 4)
    assert end - start == timedelta(minutes=120)
    assert local(end).strftime("%H:%M %z") == "04:30 +0200"


def test_starts_after_midnight_belong_to_the_day_the_service_opened() -> None:
    r = restaurant()
    after_midnight = datetime(2026, 6, 6, 0, 30, tzinfo=MADRID).astimezone(UTC)
    assert business_day_of(r, after_midnight) == date(2026, 6, 5)
    assert after_midnight in grid_starts(r, date(2026, 6, 5))
    assert after_midnight not in grid_starts(r, date(2026, 6, 6))
    closing = datetime(2026, 6, 6, 3, 0, tzinfo=MADRID).astimezone(UTC)
    assert business_day_of(r, closing) is None


def test_a_special_closure_removes_the_day_and_special_hours_replace_it() -> None:
    closed = SpecialDate(date(2026, 12, 24), closed=True)
    short = SpecialDate(date(2026, 12, 31), closed=False, hours=(ServiceHours(time(19), time(21)),))
    r = restaurant(special_dates=(closed, short))
    assert grid_starts(r, date(2026, 12, 24)) == []
    new_year = [local(s).strftime("%H:%M") for s in grid_starts(r, date(2026, 12, 31))]
    assert new_year == [f"{h}:{m:02d}" for h in (19, 20) for m in (0, 15, 30, 45)]
    christmas_eve_late = datetime(2026, 12, 24, 21, 0, tzinfo=MADRID).astimezone(UTC)
    with pytest.raises(errors.OutsideOpeningHours):
        check_rules(r, christmas_eve_late, 2, datetime(2026, 12, 1, tzinfo=UTC))


NOW = datetime(2026, 6, 1, 10, 15, tzinfo=UTC)  # 12:15 in Madrid


@pytest.mark.parametrize(
    ("start_local", "party", "staff", "error"),
    [
        (datetime(2026, 6, 1, 12, 30), 2, False, errors.OutsideOpeningHours),
        (datetime(2026, 6, 1, 13, 0), 2, False, errors.TooSoon),  # inside the 60-minute lead
        (datetime(2026, 6, 1, 11, 0), 2, True, errors.OutsideOpeningHours),
        (datetime(2026, 7, 2, 13, 0), 2, False, errors.TooFarAhead),
        (datetime(2026, 6, 2, 13, 0), 7, False, errors.PartyTooLarge),
        (datetime(2026, 6, 2, 13, 0), 9, True, errors.NoSuitableTable),
        (datetime(2026, 6, 2, 13, 7), 2, False, errors.OutsideOpeningHours),  # off the grid
    ],
)
def test_rules_refuse_with_their_codes(
    start_local: datetime, party: int, staff: bool, error: type[errors.DomainError]
) -> None:
    start = start_local.replace(tzinfo=MADRID).astimezone(UTC)
    with pytest.raises(error):
        check_rules(restaurant(), start, party, NOW, staff=staff)


def test_staff_may_book_inside_the_lead_time_and_above_the_online_party_size() -> None:
    r = restaurant()
    soon = datetime(2026, 6, 1, 13, 0, tzinfo=MADRID).astimezone(UTC)
    assert check_rules(r, soon, 7, NOW, staff=True) == date(2026, 6, 1)


def test_seating_prefers_area_then_single_tables_then_the_smallest() -> None:
    r = restaurant()
    assert [s.codes for s in seatings(r, 2)] == [("T1",), ("T2",), ("T3",), ("T4",)]
    assert seatings(r, 2, "terrace")[0].codes == ("T2",)
    assert [s.codes for s in seatings(r, 6)] == [("T3", "T4")]


def test_buffers_and_turn_times_decide_what_is_free() -> None:
    r = restaurant(tables=(TABLES[2],), combinations=())
    start = datetime(2026, 6, 2, 13, 0, tzinfo=MADRID).astimezone(UTC)
    held = Booked((3,), start, start + timedelta(minutes=120), 15, 4)
    just_after = start + timedelta(minutes=120)  # still inside the 15-minute buffer
    assert free_seatings(r, just_after, 2, [held]) == []
    after_buffer = start + timedelta(minutes=135)
    assert free_seatings(r, after_buffer, 2, [held])[0].codes == ("T3",)
    touching = start - timedelta(minutes=105)  # 90 min + 15 buffer ends exactly at 13:00
    assert free_seatings(r, touching, 2, [held])[0].codes == ("T3",)
    assert free_seatings(r, start - timedelta(minutes=90), 2, [held]) == []


def test_pacing_caps_the_covers_starting_in_one_slot() -> None:
    r = restaurant(rules=Rules(min_lead_minutes=0, pacing_covers_per_slot=4))
    start = datetime(2026, 6, 2, 13, 0, tzinfo=MADRID).astimezone(UTC)
    held = Booked((3,), start, start + timedelta(minutes=120), 15, 3)
    offered = {s.start for s in bookable_starts(r, date(2026, 6, 2), 2, NOW, [held])}
    assert start not in offered  # 3 + 2 > 4
    assert start + timedelta(minutes=15) in offered
    one_more = {s.start for s in bookable_starts(r, date(2026, 6, 2), 1, NOW, [held])}
    assert start in one_more


@pytest.mark.parametrize("pacing", [6, None])
@pytest.mark.parametrize("bookings", [14, 3, 0])
def test_offered_starts_are_exactly_those_every_rule_and_table_allows(
    pacing: int | None, bookings: int
) -> None:
    """``bookable_starts`` works out once per day what ``check_timing``,
    ``pacing_allows`` and ``free_seatings`` decide per start; on a crowded day, a
    quiet one (some tables untouched all day) and an empty one, today and
    tomorrow, public and staff, with and without pacing, both ways must agree
    start by start, and on the seating a create would be given."""
    r = restaurant(
        rules=replace(restaurant().rules, pacing_covers_per_slot=pacing, buffer_minutes=10)
    )
    rng = random.Random(7)
    for day in (NOW.astimezone(MADRID).date(), NOW.astimezone(MADRID).date() + timedelta(days=1)):
        grid = grid_starts(r, day)
        booked = []
        for _ in range(bookings):
            start = rng.choice(grid)
            party = rng.randint(1, 8)
            tables = rng.choice([(1,), (2,), (3,), (4,), (3, 4)])
            booked.append(Booked(tables, start, end_of(r, start, party), 10, party))
        occupancy = Occupancy(booked)
        for party in range(1, 9):
            for staff in (False, True):
                offered = [
                    (s.start, s.seating)
                    for s in bookable_starts(r, day, party, NOW, booked, staff=staff)
                ]
                expected = []
                for start in grid:
                    try:
                        check_rules(r, start, party, NOW, staff=staff)
                    except errors.DomainError:
                        continue
                    free = free_seatings(r, start, party, booked)
                    if pacing_allows(r, start, party, occupancy) and free:
                        expected.append((start, free[0]))
                assert offered == expected, (day, party, staff)


def test_a_stay_clear_of_every_booking_is_free_and_any_shared_cell_is_not() -> None:
    start = datetime(2026, 6, 2, 21, 0, tzinfo=MADRID).astimezone(UTC)
    occupancy = Occupancy([Booked((3,), start, start + timedelta(minutes=90), 0, 2)])
    first = int(start.timestamp()) // (5 * 60)
    assert occupancy.free((3,), range(first - 40, first))  # wholly before it
    assert occupancy.free((3,), range(first + 18, first + 30))  # from its end on
    assert not occupancy.free((3,), range(first + 17, first + 18))  # its last cell
    assert not occupancy.free((4, 3), range(first - 40, first + 1))  # its first cell
    assert occupancy.free((4,), range(first, first + 18))  # another table
