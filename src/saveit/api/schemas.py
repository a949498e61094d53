"""Request bodies (strict: unknown fields and wrong types are 422s) and the JSON
shapes of responses. Instants go out in the restaurant's local offset, because
that is the time on the guest's confirmation and the host's sheet."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from saveit.domain import errors
from saveit.domain.model import Restaurant
from saveit.domain.views import ReservationView
from saveit.restaurant_setup import WEEKDAYS, ContactSpec, HoursSpec, check_timezone
from saveit.store.restaurant_json import hours_to_json
from saveit.store.restaurants import Profile

Channel = Literal["web", "whatsapp", "instagram", "webchat", "email", "sms", "phone", "api"]
PartySize = Annotated[int, Field(strict=True, ge=1, le=1000)]
TableCode = Annotated[str, Field(min_length=1, max_length=32)]
Version = Annotated[int, Field(strict=True, ge=1)]

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2199, 12, 31)


def _plausible_day(value: dt.date) -> dt.date:
    """Far-off dates are typos, and near the calendar's ends the UTC conversions overflow."""
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"dates run from {EARLIEST} to {LATEST}")
    return value


def _plausible_instant(value: dt.datetime) -> dt.datetime:
    _plausible_day(value.date())
    return value


Day = Annotated[dt.date, AfterValidator(_plausible_day)]
Instant = Annotated[AwareDatetime, AfterValidator(_plausible_instant)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class When(Body):
    """Either an instant with its offset, or a local wall time at the restaurant."""

    start: Instant | None = None
    date: Day | None = None
    time: dt.time | None = None

    @model_validator(mode="after")
    def _one_way(self) -> When:
        if self.start is not None and (self.date is not None or self.time is not None):
            raise ValueError("give either start, or date and time, not both")
        if (self.date is None) != (self.time is None):
            raise ValueError("date and time go together")
        if self.time is not None and self.time.tzinfo is not None:
            raise ValueError("time is the restaurant's local wall time, without an offset")
        return self

    def resolved(self, tz: ZoneInfo) -> dt.datetime | None:
        if self.start is not None:
            return self.start
        if self.date is None or self.time is None:
            return None
        local = dt.datetime.combine(self.date, self.time, tzinfo=tz)
        back = local.astimezone(dt.UTC).astimezone(tz)
        if back.replace(tzinfo=None) != local.replace(tzinfo=None):
            raise errors.ValidationFailed(
                f"{self.date} {self.time:%H:%M} does not exist in {tz.key} (clock change)",
                field="time",
            )
        return local


class NewReservation(When):
    party_size: PartySize
    name: Annotated[str, Field(min_length=1, max_length=200)]
    phone: Annotated[str, Field(max_length=32)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    language: Literal["es", "en"] | None = None
    notes: Annotated[str, Field(max_length=1000)] = ""
    area: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tables: Annotated[list[TableCode], Field(max_length=20)] | None = None
    source: Channel = "web"
    status: Literal["pending", "confirmed"] | None = None

    @model_validator(mode="after")
    def _has_time(self) -> NewReservation:
        if self.start is None and self.date is None:
            raise ValueError("give start, or date and time")
        return self


class ReservationChanges(When):
    party_size: PartySize | None = None
    notes: Annotated[str, Field(max_length=1000)] | None = None
    tables: Annotated[list[TableCode], Field(min_length=1, max_length=20)] | None = None
    version: Version | None = None


class Cancellation(Body):
    reason: Annotated[str, Field(max_length=500)] = ""
    version: Version | None = None


class StatusChange(Body):
    version: Version | None = None


class NewWalkIn(Body):
    party_size: PartySize
    name: Annotated[str, Field(max_length=200)] = ""
    tables: Annotated[list[TableCode], Field(max_length=20)] | None = None
    area: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    notes: Annotated[str, Field(max_length=1000)] = ""


class ProfileChanges(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    contact: ContactSpec | None = None

    @model_validator(mode="after")
    def _known_zone(self) -> ProfileChanges:
        if self.timezone is not None:
            check_timezone(self.timezone)
        return self


class SpecialDateBody(Body):
    closed: bool = False
    hours: Annotated[list[HoursSpec], Field(max_length=10)] = Field(default_factory=list)
    note: Annotated[str, Field(max_length=200)] = ""


class TableBody(Body):
    area: Annotated[str, Field(min_length=1, max_length=64)] = "indoor"
    min_capacity: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    max_capacity: Annotated[int, Field(strict=True, ge=1, le=100)]
    active: bool = True


class CombinationBody(Body):
    tables: Annotated[list[TableCode], Field(min_length=2, max_length=10)]
    min_capacity: Annotated[int, Field(strict=True, ge=1, le=1000)] = 1
    max_capacity: Annotated[int, Field(strict=True, ge=1, le=1000)]


class NewToken(Body):
    role: Literal["host", "manager", "owner"]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    display_name: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=48,
            description="What guests see when this token's holder writes to them "
            '(default "el equipo" / "Staff"); `name` is for the audit log only.',
        ),
    ] = None
    ttl_days: Annotated[
        int | None,
        Field(ge=1, description="Lifetime in days (default and maximum: the server's settings)."),
    ] = None


# --- responses ---------------------------------------------------------------------------


def local_iso(instant: dt.datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).isoformat()


def reservation_json(view: ReservationView, tz: ZoneInfo) -> dict[str, Any]:
    guest = view.guest
    return {
        "code": view.code,
        "restaurant": view.restaurant,
        "status": view.status.value,
        "party_size": view.party_size,
        "start": local_iso(view.start, tz),
        "end": local_iso(view.end, tz),
        "tables": list(view.tables),
        "source": view.source,
        "notes": view.notes,
        "guest": (
            {
                "name": guest.name,
                "phone": guest.phone,
                "email": guest.email,
                "language": guest.language,
            }
            if guest
            else None
        ),
        "version": view.version,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
    }


def weekly_hours(restaurant: Restaurant) -> dict[str, list[dict[str, str]]]:
    week: dict[str, list[dict[str, str]]] = {day: [] for day in WEEKDAYS}
    for service in sorted(restaurant.services, key=lambda s: (s.weekday, s.hours.opens)):
        week[WEEKDAYS[service.weekday]].append(hours_to_json(service.hours))
    return week


def special_dates_json(restaurant: Restaurant, since: dt.date) -> list[dict[str, Any]]:
    return [
        {
            "date": s.day.isoformat(),
            "closed": s.closed,
            "hours": [hours_to_json(h) for h in s.hours],
            "note": s.note,
        }
        for s in sorted(restaurant.special_dates, key=lambda s: s.day)
        if s.day >= since
    ]


def restaurant_json(profile: Profile, restaurant: Restaurant, today: dt.date) -> dict[str, Any]:
    rules = restaurant.rules
    return {
        "slug": profile.slug,
        "name": profile.name,
        "timezone": profile.timezone,
        "contact": {
            "phone": profile.phone,
            "email": profile.email,
            "address": profile.address,
            "website": profile.website,
        },
        "hours": weekly_hours(restaurant),
        "special_dates": special_dates_json(restaurant, today),
        "booking": {
            "max_party_size": rules.max_party_size,
            "max_days_ahead": rules.max_days_ahead,
            "min_lead_minutes": rules.min_lead_minutes,
            "slot_minutes": rules.slot_minutes,
            "cancel_cutoff_minutes": rules.cancel_cutoff_minutes,
            "verify_public_bookings": rules.verify_public_bookings,  # ask for the code
        },
    }
