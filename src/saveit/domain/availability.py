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
from saveit.domain.derived import PerConfiguration
from saveit.domain.model import CLAIM_MINUTES, Booked, Restaurant, Seating
from saveit.domain.schedule import business_day_of, day_of, grid_instants, local_today

_CELL_SECONDS = CLAIM_MINUTES * 60


def cells(start: datetime, end: datetime, buffer_minutes: int) -> range:
    """Claim cells (epoch seconds // cell size) covered by a booking, buffer included."""
    first = int(start.timestamp()) // _CELL_SECONDS
    stop = int(end.timestamp()) + buffer_minutes * 60  # epoch seconds, buffer included
    last = -(-stop // _CELL_SECONDS)  # ceiling division
    return range(first, max(last, first + 1))


def seatings(restaurant: Restaurant, party_size: int, area: str | None = None) -> list[Seating]:
    """Ways to seat the party, best first: preferred area, single tables before
    combinations, smallest adequate capacity first."""
    return list(_seatings(restaurant, party_size, area))


def _seatings(restaurant: Restaurant, party_size: int, area: str | None) -> tuple[Seating, ...]:
    return _SEATINGS(restaurant, (party_size, area))


def _sorted_seatings(restaurant: Restaurant, party_size: int, area: str | None) -> list[Seating]:
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


# Asked twice per party size on every availability miss and once per booking.
_SEATINGS: PerConfiguration[tuple[int, str | None], tuple[Seating, ...]] = PerConfiguration(
    lambda restaurant, key: tuple(_sorted_seatings(restaurant, *key))
)


def check_party(restaurant: Restaurant, party_size: int, *, staff: bool = False) -> None:
    """The rules that depend on the party alone, whatever the time."""
    rules = restaurant.rules
    if party_size < 1:
        raise errors.ValidationFailed("party_size must be at least 1")
    if not staff and party_size > rules.max_party_size:
        raise errors.PartyTooLarge(
            f"Parties over {rules.max_party_size} are booked by the restaurant's staff",
            max_party_size=rules.max_party_size,
        )
    if not _seatings(restaurant, party_size, None):
        raise errors.NoSuitableTable(
            f"No table or combination seats {party_size}", party_size=party_size
        )


def check_timing(
    restaurant: Restaurant, day: date, start: datetime, now: datetime, *, staff: bool = False
) -> None:
    """Lead time and booking horizon, for a start already known to be on ``day``'s grid."""
    rules = restaurant.rules
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
    check_party(restaurant, party_size, staff=staff)
    day = business_day_of(restaurant, start)
    if day is None:
        raise errors.OutsideOpeningHours(
            "That time is not a bookable start in the opening hours",
            start=start.astimezone(UTC).isoformat(),
        )
    check_timing(restaurant, day, start, now, staff=staff)
    return day


class Occupancy:
    """Held claim cells per table, built once per query so that checking a
    seating costs a few integer operations instead of a pass over every booking.

    Each table's held cells are one bitmask (bit ``i`` is cell ``base + i``): a
    stay is free on a table when its own mask shares no bit with the table's.
    Availability asks this for every start of the day and every seating in turn,
    which makes it the innermost loop of a cache miss."""

    def __init__(self, booked: Iterable[Booked]) -> None:
        spans = [(b, cells(b.start, b.end, b.buffer_minutes)) for b in booked]
        self._base = min((span.start for _, span in spans), default=0)
        self._held: dict[int, int] = {}
        self._covers: dict[datetime, int] = {}
        for b, span in spans:
            mask = self._span_mask(span)
            for table_id in b.table_ids:
                self._held[table_id] = self._held.get(table_id, 0) | mask
            self._covers[b.start] = self._covers.get(b.start, 0) + b.party_size

    def mask(self, wanted: range) -> int:
        """The cells of ``wanted`` as a bitmask (cells before every booking left out:
        nothing is held there)."""
        if not self._held:
            # Nothing is held: no bit to compare with. (Measured from base 0, the
            # epoch, the mask would be an integer millions of bits wide.)
            return 0
        return self._span_mask(wanted)

    def _span_mask(self, wanted: range) -> int:
        lo = max(wanted.start, self._base)
        if wanted.stop <= lo:
            return 0
        return ((1 << (wanted.stop - lo)) - 1) << (lo - self._base)

    def free(self, table_ids: Iterable[int], wanted: range) -> bool:
        held, mask = self._held, self.mask(wanted)
        return all(not held.get(table_id, 0) & mask for table_id in table_ids)

    def first_free(self, options: Sequence[Seating], wanted: range) -> Seating | None:
        mask = self.mask(wanted)
        held = self._held
        for seating in options:
            for table_id in seating.table_ids:
                if held.get(table_id, 0) & mask:
                    break
            else:
                return seating
        return None

    def first_idle(self, options: Sequence[Seating]) -> int | None:
        """The index of the first seating whose tables hold nothing all day, if any:
        :meth:`first_free` never looks past it, and when it is the first of all,
        every start is free at it."""
        held = self._held
        for index, seating in enumerate(options):
            if not any(held.get(table_id, 0) for table_id in seating.table_ids):
                return index
        return None

    def covers_starting(self, start: datetime) -> int:
        return self._covers.get(start, 0)


def _occupancy(booked: Sequence[Booked] | Occupancy) -> Occupancy:
    return booked if isinstance(booked, Occupancy) else Occupancy(booked)


def pacing_allows(
    restaurant: Restaurant,
    start: datetime,
    party_size: int,
    booked: Sequence[Booked] | Occupancy,
) -> bool:
    cap = restaurant.rules.pacing_covers_per_slot
    if cap is None:
        return True
    return _occupancy(booked).covers_starting(start) + party_size <= cap


def first_free(
    restaurant: Restaurant,
    start: datetime,
    party_size: int,
    occupancy: Occupancy,
    options: Sequence[Seating],
) -> Seating | None:
    """The best free seating, or None: what a create would be given. Stops at the
    first free one, which on an ordinary evening is among the first few tried."""
    wanted = cells(start, end_of(restaurant, start, party_size), restaurant.rules.buffer_minutes)
    return occupancy.first_free(options, wanted)


def free_seatings(
    restaurant: Restaurant,
    start: datetime,
    party_size: int,
    booked: Sequence[Booked] | Occupancy,
    area: str | None = None,
    *,
    options: Sequence[Seating] | None = None,
) -> list[Seating]:
    """Seatings free for the whole stay, best first (empty when none)."""
    occupancy = _occupancy(booked)
    wanted = cells(start, end_of(restaurant, start, party_size), restaurant.rules.buffer_minutes)
    if options is None:
        options = _seatings(restaurant, party_size, area)
    return [s for s in options if occupancy.free(s.table_ids, wanted)]


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # UTC
    seating: Seating


def bookable_starts(
    restaurant: Restaurant,
    day: date,
    party_size: int,
    now: datetime,
    booked: Sequence[Booked] | Occupancy,
    *,
    area: str | None = None,
    staff: bool = False,
) -> list[Slot]:
    """Starts of a business day that a create would accept right now.

    The same rules as :func:`check_timing`, :func:`pacing_allows` and
    :func:`first_free` start by start, with what they share across the day worked
    out once: a cache miss runs this for every start of the day."""
    try:
        check_party(restaurant, party_size, staff=staff)
    except errors.DomainError:
        return []
    rules = restaurant.rules
    if (day - local_today(restaurant, now)).days > rules.max_days_ahead:
        return []  # the whole day lies beyond the booking horizon
    earliest = now if staff else now + timedelta(minutes=rules.min_lead_minutes)
    occupancy = _occupancy(booked)
    options: Sequence[Seating] = _seatings(restaurant, party_size, area)
    cap = rules.pacing_covers_per_slot
    grid = grid_instants(restaurant, day)
    idle = occupancy.first_idle(options)
    if idle == 0 and cap is None:  # the best seating is untouched all day (most days)
        return [Slot(start, options[0]) for start, _ in grid if start >= earliest]
    if idle is not None:
        options = options[: idle + 1]
    stay_s = (rules.duration_minutes(party_size) + rules.buffer_minutes) * 60
    found: list[Slot] = []
    for start, at in grid:
        if start < earliest:
            continue
        if cap is not None and occupancy.covers_starting(start) + party_size > cap:
            continue
        first = at // _CELL_SECONDS
        wanted = range(first, max(-(-(at + stay_s) // _CELL_SECONDS), first + 1))
        seating = occupancy.first_free(options, wanted)
        if seating is not None:
            found.append(Slot(start, seating))
    return found


def bookable_starts_by_size(
    restaurant: Restaurant,
    day: date,
    party_sizes: Iterable[int],
    now: datetime,
    booked: Sequence[Booked] | Occupancy,
    *,
    staff: bool = False,
) -> dict[int, list[Slot]]:
    """:func:`bookable_starts` for several party sizes of one day (any area).

    Without pacing, a party's free starts depend only on the seatings that fit
    it and how long it stays, so sizes that share both (a two and a one at the
    same tables, say) share one pass over the day."""
    occupancy = _occupancy(booked)
    rules = restaurant.rules
    passes: dict[tuple[tuple[Seating, ...], int], list[Slot]] = {}
    found: dict[int, list[Slot]] = {}
    for size in party_sizes:
        if rules.pacing_covers_per_slot is not None or size < 1:
            found[size] = bookable_starts(restaurant, day, size, now, occupancy, staff=staff)
            continue
        if not staff and size > rules.max_party_size:
            found[size] = []
            continue
        shared = (_seatings(restaurant, size, None), rules.duration_minutes(size))
        slots = passes.get(shared)
        if slots is None:
            slots = passes[shared] = bookable_starts(
                restaurant, day, size, now, occupancy, staff=staff
            )
        found[size] = slots
    return found


def nearest_alternatives(
    restaurant: Restaurant,
    wanted: datetime,
    party_size: int,
    now: datetime,
    booked_on: Callable[[date], Sequence[Booked] | Occupancy],
    *,
    limit: int = 3,
    days: int = 7,
    staff: bool = False,
) -> list[datetime]:
    """Free starts nearest the wanted time: the same day first, then the next days."""
    # The business day the wanted start belongs to: 00:30 of a late service that
    # opened the evening before looks for alternatives on that evening first.
    first_day = day_of(restaurant, wanted)
    picked: list[datetime] = []
    for offset in range(days + 1):
        day = first_day + timedelta(days=offset)
        slots = bookable_starts(restaurant, day, party_size, now, booked_on(day), staff=staff)
        # Nearest to the wanted time of day: same day first, then the next days.
        target = wanted + timedelta(days=offset)
        starts = sorted(
            (s.start for s in slots if s.start != wanted),
            key=lambda s: (abs((s - target).total_seconds()), s),
        )
        picked.extend(starts[: limit - len(picked)])
        if len(picked) >= limit:
            break
    return picked
