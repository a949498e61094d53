"""The booking domain's values: restaurants, their rules, tables and reservations.

Frozen dataclasses, built by the store from rows and by tests by hand. Times of
day are local to the restaurant; instants are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

CLAIM_MINUTES = 5
"""Granularity of table claims. Every duration, buffer and grid must be a multiple."""


class Status(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    # A seat held for a waitlist guest while they answer the offer (saveit.waitlist):
    # it claims its tables like a booking, but is nobody's booking until accepted.
    HELD = "held"
    RELEASED = "released"  # a hold declined or expired: its tables are free again

    @property
    def holds_tables(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset(
        {Status.CONFIRMED, Status.CANCELLED, Status.CHECKED_IN, Status.NO_SHOW}
    ),
    Status.CONFIRMED: frozenset({Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW}),
    Status.CHECKED_IN: frozenset({Status.COMPLETED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.NO_SHOW: frozenset(),
    # A hold is accepted (held -> confirmed) or released only by the waitlist, which
    # moves its entry in the same transaction; staff actions on it are refused.
    Status.HELD: frozenset(),
    Status.RELEASED: frozenset(),
}

OCCUPYING_STATUSES = ACTIVE_STATUSES | {Status.HELD}
"""What availability counts as taken: active bookings and seats held for an offer."""


@dataclass(frozen=True, slots=True)
class TurnTime:
    """Parties of up to ``max_party`` guests stay ``minutes``."""

    max_party: int
    minutes: int


@dataclass(frozen=True, slots=True)
class Rules:
    slot_minutes: int = 15
    turn_times: tuple[TurnTime, ...] = (
        TurnTime(2, 90),
        TurnTime(4, 120),
        TurnTime(1000, 150),
    )
    buffer_minutes: int = 15
    min_lead_minutes: int = 60
    max_days_ahead: int = 60
    max_party_size: int = 8
    cancel_cutoff_minutes: int = 120
    pacing_covers_per_slot: int | None = None
    # The door: a QR scans from ``checkin_early`` before the start to ``checkin_late``
    # after it; a booking not checked in ``no_show_grace`` after its start is a no-show.
    checkin_early_minutes: int = 30
    checkin_late_minutes: int = 45
    no_show_grace_minutes: int = 20
    # Guests with at least this many no-shows book as ``pending`` (staff approve); None: off.
    no_show_approval_after: int | None = None
    # Public bookings wait as ``pending`` until the guest types the code sent to their
    # phone or email; unconfirmed holds expire and free their table.
    verify_public_bookings: bool = False

    def duration_minutes(self, party_size: int) -> int:
        for turn in sorted(self.turn_times, key=lambda t: t.max_party):
            if party_size <= turn.max_party:
                return turn.minutes
        return max(t.minutes for t in self.turn_times)

    def problems(self) -> list[str]:
        """What makes these rules unusable; empty when they are fine."""
        found: list[str] = []
        minutes = {"slot_minutes": self.slot_minutes, "buffer_minutes": self.buffer_minutes}
        minutes |= {f"turn_times[{t.max_party}]": t.minutes for t in self.turn_times}
        for name, value in minutes.items():
            if value < 0 or value % CLAIM_MINUTES:
                found.append(f"{name} must be a non-negative multiple of {CLAIM_MINUTES}")
        if self.slot_minutes <= 0:
            found.append("slot_minutes must be positive")
        if not self.turn_times or any(t.minutes <= 0 for t in self.turn_times):
            found.append("turn_times must list at least one positive duration")
        if self.pacing_covers_per_slot is not None and self.pacing_covers_per_slot < 1:
            found.append("pacing_covers_per_slot must be at least 1 when set")
        if self.no_show_approval_after is not None and self.no_show_approval_after < 1:
            found.append("no_show_approval_after must be at least 1 when set")
        door = {
            "checkin_early_minutes": self.checkin_early_minutes,
            "checkin_late_minutes": self.checkin_late_minutes,
            "no_show_grace_minutes": self.no_show_grace_minutes,
        }
        found += [f"{name} must not be negative" for name, value in door.items() if value < 0]
        return found


@dataclass(frozen=True, slots=True)
class ServiceHours:
    """A window in which parties may be seated: starts from ``opens`` up to, not
    including, ``closes``. ``closes <= opens`` means the service ends after
    midnight; it still belongs to the day it opens on."""

    opens: time
    closes: time
    name: str = ""

    @property
    def crosses_midnight(self) -> bool:
        return self.closes <= self.opens


@dataclass(frozen=True, slots=True)
class WeeklyService:
    weekday: int  # Monday = 0, as datetime.weekday()
    hours: ServiceHours


@dataclass(frozen=True, slots=True)
class SpecialDate:
    """Replaces the weekly services of one date: closed, or these hours instead."""

    day: date
    closed: bool
    hours: tuple[ServiceHours, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    id: int
    code: str
    area: str
    min_capacity: int
    max_capacity: int
    active: bool = True


@dataclass(frozen=True, slots=True)
class Combination:
    id: int
    code: str
    table_ids: tuple[int, ...]
    min_capacity: int
    max_capacity: int


@dataclass(frozen=True, slots=True)
class Seating:
    """One way to seat a party: a single table or a combination of tables."""

    table_ids: tuple[int, ...]
    codes: tuple[str, ...]
    area: str
    max_capacity: int
    is_combination: bool


@dataclass(frozen=True, slots=True)
class Restaurant:
    id: int
    slug: str
    name: str
    timezone: str
    rules: Rules = field(default_factory=Rules)
    services: tuple[WeeklyService, ...] = ()
    special_dates: tuple[SpecialDate, ...] = ()
    tables: tuple[Table, ...] = ()
    combinations: tuple[Combination, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def table_by_id(self, table_id: int) -> Table:
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(table_id)


@dataclass(frozen=True, slots=True)
class Booked:
    """What the availability computation needs to know of an existing booking."""

    table_ids: tuple[int, ...]
    start: datetime
    end: datetime  # seating end, buffer excluded
    buffer_minutes: int
    party_size: int
