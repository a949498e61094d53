"""More of the pure domain: closing inside the spring gap, alternatives for a start
after midnight, turn times, seating choice and the validation of rules."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from saveit.admin.setup import RulesSpec
from saveit.domain.availability import (
    bookable_starts,
    cells,
    nearest_alternatives,
    seatings,
)
from saveit.domain.model import (
    Booked,
    Combination,
    Restaurant,
    Rules,
    ServiceHours,
    Table,
    TurnTime,
    WeeklyService,
)
from saveit.domain.schedule import business_day_of, grid_starts, windows_for

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def place(opens: time, closes: time, **kw: object) -> Restaurant:
    rules = Rules(
        min_lead_minutes=0,
        max_days_ahead=365,
        buffer_minutes=0,
        turn_times=(TurnTime(1000, 60),),
    )
    hours = ServiceHours(opens, closes, "late")
    return Restaurant(
        id=1,
        slug="p",
        name="P",
        timezone="Europe/Madrid",
        rules=kw.pop("rules", rules),  # type: ignore[arg-type]
        services=tuple(WeeklyService(d, hours) for d in range(7)),
        tables=kw.pop("tables", (Table(1, "T1", "indoor", 1, 8),)),  # type: ignore[arg-type]
    )


def wall(values: list[datetime]) -> list[str]:
    return [v.astimezone(MADRID).strftime("%d %H:%M%z") for v in values]


def test_a_service_closing_inside_the_spring_gap_ends_when_the_clocks_jump() -> None:
    starts = grid_starts(place(time(22), time(2, 30)), date(2026, 3, 28))
    assert wall(starts)[-1] == "29 01:45+0100"  # not 03:00 or 03:15 CEST, after closing
    assert len(starts) == 16
    window = windows_for(place(time(22), time(2, 30)), date(2026, 3, 28))[0]
    assert window.closes == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # the jump itself


def test_22_to_03_on_both_daylight_saving_nights() -> None:
    r = place(time(22), time(3))
    spring = grid_starts(r, date(2026, 3, 28))
    autumn = grid_starts(r, date(2026, 10, 24))
    assert len(spring) == 4 * 4
    assert len(autumn) == 6 * 4
    assert not [w for w in wall(spring) if w.startswith("29 02")]
    twice = [w for w in wall(autumn) if w.startswith("25 02")]
    assert len(twice) == 8
    assert len(set(twice)) == 8
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(autumn))
    # A stay of 60 real minutes from 02:30 CEST ends at 02:30 CET on the wall.
    first_0230 = next(s for s in autumn if wall([s])[0] == "25 02:30+0200")
    assert wall([first_0230 + timedelta(minutes=60)]) == ["25 02:30+0100"]
    for start in spring + autumn:
        assert business_day_of(r, start) == start.astimezone(MADRID).date() - timedelta(
            days=0 if start.astimezone(MADRID).hour >= 22 else 1
        )


def test_alternatives_for_a_taken_start_after_midnight_come_from_that_night() -> None:
    r = place(time(21), time(2))
    wanted = datetime(2026, 6, 6, 0, 30, tzinfo=MADRID).astimezone(UTC)
    held = [Booked((1,), wanted, wanted + timedelta(minutes=60), 0, 2)]
    found = nearest_alternatives(r, wanted, 2, NOW, lambda _day: held)
    assert wall(found) == ["05 23:30+0200", "06 01:30+0200", "05 23:15+0200"]


def test_alternatives_skip_to_the_next_days_and_respect_the_limit() -> None:
    r = place(time(21), time(22))  # four starts a night
    night = date(2026, 6, 5)
    wanted = datetime(2026, 6, 5, 21, 30, tzinfo=MADRID).astimezone(UTC)
    start = datetime(2026, 6, 5, 21, 0, tzinfo=MADRID).astimezone(UTC)
    full = [Booked((1,), start, start + timedelta(minutes=120), 0, 2)]

    def booked_on(day: date) -> list[Booked]:
        return full if day == night else []

    found = nearest_alternatives(r, wanted, 2, NOW, booked_on, limit=5)
    assert wall(found) == [
        "06 21:30+0200",
        "06 21:15+0200",
        "06 21:45+0200",
        "06 21:00+0200",
        "07 21:30+0200",
    ]


@pytest.mark.parametrize(
    ("party", "minutes"), [(1, 90), (2, 90), (3, 120), (4, 120), (5, 150), (40, 150)]
)
def test_turn_times_grow_with_the_party(party: int, minutes: int) -> None:
    assert Rules().duration_minutes(party) == minutes


def test_a_party_bigger_than_every_turn_time_stays_the_longest() -> None:
    rules = Rules(turn_times=(TurnTime(4, 120), TurnTime(2, 60)))
    assert [rules.duration_minutes(p) for p in (1, 3, 9)] == [60, 120, 120]


def test_claim_cells_cover_the_stay_and_buffer_and_round_outwards() -> None:
    start = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)
    span = cells(start, start + timedelta(minutes=90), 15)
    assert len(span) == 21
    assert span.start * 300 == int(start.timestamp())
    odd = cells(start + timedelta(minutes=3), start + timedelta(minutes=33), 0)
    assert (odd.start * 300, odd.stop * 300) == (
        int(start.timestamp()),
        int((start + timedelta(minutes=35)).timestamp()),
    )


def test_combinations_only_when_no_single_table_fits_and_never_with_an_inactive_table() -> None:
    tables = (
        Table(1, "A", "indoor", 1, 2),
        Table(2, "B", "indoor", 2, 4),
        Table(3, "C", "terrace", 2, 4),
        Table(4, "D", "terrace", 4, 6, active=False),
    )
    combos = (Combination(10, "B+C", (2, 3), 4, 8), Combination(11, "C+D", (3, 4), 6, 10))
    r = Restaurant(1, "p", "P", "Europe/Madrid", tables=tables, combinations=combos)
    assert [s.codes for s in seatings(r, 4)] == [("B",), ("C",), ("B", "C")]
    assert [s.codes for s in seatings(r, 4, "terrace")] == [("C",), ("B",), ("B", "C")]
    assert [(s.codes, s.area, s.is_combination) for s in seatings(r, 7)] == [
        (("B", "C"), "mixed", True)
    ]
    assert seatings(r, 9) == []


def test_availability_hands_out_the_smallest_free_table() -> None:
    tables = (Table(1, "BIG", "indoor", 1, 6), Table(2, "SMALL", "indoor", 1, 2))
    r = place(time(21), time(22), tables=tables)
    day = date(2026, 6, 5)
    first = bookable_starts(r, day, 2, NOW, [])[0]
    assert first.seating.codes == ("SMALL",)
    held = [Booked((2,), first.start, first.start + timedelta(minutes=60), 0, 2)]
    assert bookable_starts(r, day, 2, NOW, held)[0].seating.codes == ("BIG",)


@pytest.mark.parametrize(
    "bad",
    [
        {"slot_minutes": 7},
        {"buffer_minutes": 12},
        {"turn_times": [{"max_party": 2, "minutes": 92}]},
        {"turn_times": []},
        {"pacing_covers_per_slot": 0},
    ],
)
def test_rules_off_the_five_minute_grid_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RulesSpec.model_validate(bad)


def test_the_domain_rules_report_every_problem() -> None:
    problems = Rules(slot_minutes=0, buffer_minutes=3, turn_times=(TurnTime(2, 61),)).problems()
    assert len(problems) == 3
    assert Rules().problems() == []
