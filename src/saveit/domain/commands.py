"""What callers ask the booking engine to do, as plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from saveit.domain.model import Status


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, for the audit log and for what the rules let them do."""

    kind: str  # guest | staff | admin | system
    name: str
    channel: str = "api"
    display: str | None = None  # what guests see of a staff actor (None: a neutral default)

    @property
    def is_staff(self) -> bool:
        return self.kind in {"staff", "admin", "system"}

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class GuestDetails:
    name: str = ""
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    notes: str = ""
    allergies: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CreateReservation:
    restaurant: str  # slug
    start: datetime
    party_size: int
    guest: GuestDetails = field(default_factory=GuestDetails)
    notes: str = ""
    area: str | None = None
    tables: tuple[str, ...] = ()  # staff may name tables
    source: str = "api"
    status: Status = Status.CONFIRMED
    idempotency_key: str | None = None
    guest_id: int | None = None  # a guest already known (the chat's); wins over contacts


@dataclass(frozen=True, slots=True)
class ModifyReservation:
    code: str
    start: datetime | None = None
    party_size: int | None = None
    tables: tuple[str, ...] | None = None
    notes: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class WalkIn:
    restaurant: str
    party_size: int
    name: str = ""
    tables: tuple[str, ...] = ()
    area: str | None = None
    notes: str = ""
