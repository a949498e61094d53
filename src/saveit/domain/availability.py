"""Which seatings are free, and which starts are bookable, computed from facts.

Occupancy is measured in claim cells of ``CLAIM_MINUTES`` so that what this
module calls free is exactly what the database's unique claim key will accept:
a booking holds every cell that ``[start, end + buffer)`` touches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from saveit.domain import errors
from saveit.domain.model import CLAIM_MINUTES, Booked, Restaurant, Seating
from saveit.domain.schedule import business_day_of, grid_starts, local_today

_CELL_SECONDS = CLAIM_MINUTES * 60


def cells(start: datetime, end: datetime, buffer_minutes: int) -> range:
    """Claim cells (epoch seconds // cell size) covered by a booking, buffer included."""
    stop = end + timedelta(minutes=buffer_minutes)
    first = int(start.timestamp()) // _CELL_SECONDS
    last = -(-int(stop.timestamp()) // _CELL_SECONDS)  # ceiling division
    return range(first, max(last, first + 1))


def seatings(restaurant: Restaurant, party_size: int, area: str | None = None) -> list[Seating]:
    """Ways to seat the party, best first: preferred area, single tables before
    combinations, smallest adequate capacity first."""
    options: list[Seating] = [
        Seating((t.id,), (t.code,), t.area, t.max_capacity, is_combination=False)
        for t in restaurant.tables
        if t.active and t.min_capacity <= party_size <= t.max_capacity
    ]
    active = {t.id: t for t in restaurant.tables if t.active}
    for combo in restaurant.combinations:
        if not combo.min_capacity <= party_size <= combo.max_capacity:
            continue
        if not all(tid in active for tid in combo.table_ids):
            continue
        areas = {active[tid].area for tid in combo.table_ids}
        options.append(
            Seating(
                tuple(sorted(combo.table_ids)),
                tuple(active[tid].code for tid in sorted(combo.table_ids)),
                areas.pop() if len(areas) == 1 else "mixed",
                combo.max_capacity,
                is_combination=True,
            )
        )
    wanted = (area or "").strip().lower()
    return sorted(
        options,
        key=lambda s: (
            bool(wanted) and s.area.lower() != wanted,
            s.is_combination,
            s.max_capacity,
            s.codes,
        ),
    )


def end_of(restaurant: Restaurant, start: datetime, party_size: int) -> datetime:
    return start + timedelta(minutes=restaurant.rules.duration_minutes(party_size))


def check_rules(
    restaurant: Restaurant,
    start: datetime,
    party_size: int,
    now: datetime,
    *,
    staff: bool = False,
) -> date:
    """Raise the first rule the request breaks; return the business day it falls on.

    Staff may book past the online party-size limit and inside the lead time;
    nobody books outside opening hours or beyond what the tables can seat.
    """
    rules = restaurant.rules
    if party_size < 1:
        raise errors.ValidationFailed("party_size must be at least 1")
    if not staff and party_size > rules.max_party_size:
        raise errors.PartyTooLarge(
            f"Parties over {rules.max_party_size} are booked by the restaurant's staff",
            max_party_size=rules.max_party_size,
        )
    if not seatings(restaurant, party_size):
        raise errors.NoSuitableTable(
            f"No table or combination seats {party_size}", party_size=party_size
        )
    day = business_day_of(restaurant, start)
    if day is None:
        raise errors.OutsideOpeningHours(
            "That time is not a bookable start in the opening hours",
            start=start.astimezone(UTC).isoformat(),
        )
    if start < now:
        raise errors.TooSoon(
            "That time has already passed", min_lead_minutes=rules.min_lead_minutes
        )
    if not staff and start < now + timedelta(minutes=rules.min_lead_minutes):
        raise errors.TooSoon(
            f"Bookings must be made at least {rules.min_lead_minutes} minutes ahead",
            min_lead_minutes=rules.min_lead_minutes,
        )
    if (day - local_today(restaurant, now)).days > rules.max_days_ahead:
        raise errors.TooFarAhead(
            f"Bookings open {rules.max_days_ahead} days ahead",
            max_days_ahead=rules.max_days_ahead,
        )
    return day


def _conflicts(occupied: Iterable[Booked], table_ids: Sequence[int], wanted: range) -> bool:
    tables = set(table_ids)
    for booked in occupied:
        if tables.isdisjoint(booked.table_ids):
            continue
        held = cells(booked.start, booked.end, booked.buffer_minutes)
        if held.start < wanted.stop and wanted.start < held.stop:
            return True
    return False


def pacing_allows(
    restaurant: Restaurant, start: datetime, party_size: int, booked: Iterable[Booked]
) -> bool:
    cap = restaurant.rules.pacing_covers_per_slot
    if cap is None:
        return True
    covers = sum(b.party_size for b in booked if b.start == start)
    return covers + party_size <= cap


def free_seatings(
    restaurant: Restaurant,
    start: datetime,
    party_size: int,
    booked: Sequence[Booked],
    area: str | None = None,
) -> list[Seating]:
    """Seatings free for the whole stay, best first (empty when none)."""
    wanted = cells(start, end_of(restaurant, start, party_size), restaurant.rules.buffer_minutes)
    return [
        s
        for s in seatings(restaurant, party_size, area)
        if not _conflicts(booked, s.table_ids, wanted)
    ]


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # UTC
    seating: Seating


def bookable_starts(
    restaurant: Restaurant,
    day: date,
    party_size: int,
    now: datetime,
    booked: Sequence[Booked],
    *,
    area: str | None = None,
    staff: bool = False,
) -> list[Slot]:
    """Starts of a business day that a create would accept right now."""
    found: list[Slot] = []
    for start in grid_starts(restaurant, day):
        try:
            check_rules(restaurant, start, party_size, now, staff=staff)
        except errors.DomainError:
            continue
        if not pacing_allows(restaurant, start, party_size, booked):
            continue
        free = free_seatings(restaurant, start, party_size, booked, area)
        if free:
            found.append(Slot(start, free[0]))
    return found


def nearest_alternatives(
    restaurant: Restaurant,
    wanted: datetime,
    party_size: int,
    now: datetime,
    booked_on: Callable[[date], Sequence[Booked]],
    *,
    limit: int = 3,
    days: int = 7,
    staff: bool = False,
) -> list[datetime]:
    """Free starts nearest the wanted time: the same day first, then the next days."""
    first_day = wanted.astimezone(restaurant.tz).date()
    picked: list[datetime] = []
    for offset in range(days + 1):
        day = first_day + timedelta(days=offset)
        slots = bookable_starts(restaurant, day, party_size, now, booked_on(day), staff=staff)
        starts = [s.start for s in slots if s.start != wanted]
        if offset == 0:
            starts.sort(key=lambda s: (abs((s - wanted).total_seconds()), s))
        picked.extend(starts[: limit - len(picked)])
        if len(picked) >= limit:
            break
    return picked
