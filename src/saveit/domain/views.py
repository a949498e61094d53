"""Read models the engine hands back: what a reservation looks like to callers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from saveit.domain.model import Status


@dataclass(frozen=True, slots=True)
class GuestView:
    id: int
    name: str
    phone: str | None
    email: str | None
    language: str | None
    visit_count: int
    no_show_count: int


@dataclass(frozen=True, slots=True)
class ReservationView:
    id: int
    code: str
    restaurant_id: int
    restaurant: str
    guest: GuestView | None
    party_size: int
    start: datetime
    end: datetime
    buffer_minutes: int
    tables: tuple[str, ...]
    status: Status
    source: str
    notes: str
    created_at: datetime
    updated_at: datetime
    version: int

    def snapshot(self) -> dict[str, Any]:
        """The JSON shape used in audit rows and outbox events."""
        return {
            "code": self.code,
            "restaurant": self.restaurant,
            "guest_id": self.guest.id if self.guest else None,
            "party_size": self.party_size,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "tables": list(self.tables),
            "status": self.status.value,
            "source": self.source,
            "notes": self.notes,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Created:
    reservation: ReservationView
    replayed: bool  # True when an Idempotency-Key replay returned an earlier booking
