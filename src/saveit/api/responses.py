"""The JSON the API answers with, as models, so ``/openapi.json`` shows every field.

Instants go out as strings in the restaurant's local offset (the time on the
guest's confirmation and the host's sheet), formatted here once, so the bytes
do not depend on the serializer. A field that is sometimes left out (rather than
``null``) is simply not set: routes answering such models use
``response_model_exclude_unset``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from saveit.admin.fields import IsoDay, IsoInstant
from saveit.admin.setup import WEEKDAYS
from saveit.domain.model import Restaurant, ServiceHours
from saveit.domain.views import ReservationView


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


def local_iso(instant: dt.datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).isoformat()


def iso_or_none(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# --- reservations ------------------------------------------------------------------------


class GuestOut(Out):
    name: str | None
    phone: str | None
    email: str | None
    language: str | None


class Reservation(Out):
    code: str
    restaurant: str
    status: Literal[
        "pending",
        "confirmed",
        "checked_in",
        "completed",
        "cancelled",
        "no_show",
        "held",
        "released",
    ]
    party_size: int
    start: IsoInstant
    end: IsoInstant
    tables: list[str]
    source: str
    notes: str
    guest: GuestOut | None
    version: int
    created_at: IsoInstant
    updated_at: IsoInstant


def reservation(view: ReservationView, tz: ZoneInfo) -> Reservation:
    guest = view.guest
    return Reservation(
        code=view.code,
        restaurant=view.restaurant,
        status=view.status.value,
        party_size=view.party_size,
        start=local_iso(view.start, tz),
        end=local_iso(view.end, tz),
        tables=list(view.tables),
        source=view.source,
        notes=view.notes,
        guest=(
            GuestOut(name=guest.name, phone=guest.phone, email=guest.email, language=guest.language)
            if guest
            else None
        ),
        version=view.version,
        created_at=view.created_at.isoformat(),
        updated_at=view.updated_at.isoformat(),
    )


class Verification(Out):
    channel: str
    expires_at: IsoInstant


class MadeReservation(Out):
    """``verification`` only when the booking waits for the guest's code."""

    reservation: Reservation
    manage_token: str
    verification: Verification | None = None


class DaySheet(Out):
    restaurant: str
    date: IsoDay
    timezone: str
    reservations: list[Reservation]


class Slot(Out):
    start: IsoInstant
    time: str = Field(description="Local HH:MM")


class Availability(Out):
    restaurant: str
    date: IsoDay
    party_size: int
    timezone: str
    slots: list[Slot]


# --- restaurants -------------------------------------------------------------------------


class Hours(Out):
    opens: str = Field(description="Local HH:MM")
    closes: str = Field(description="Local HH:MM")
    name: str


def hours(window: ServiceHours) -> Hours:
    return Hours(
        opens=window.opens.strftime("%H:%M"),
        closes=window.closes.strftime("%H:%M"),
        name=window.name,
    )


class Week(Out):
    mon: list[Hours]
    tue: list[Hours]
    wed: list[Hours]
    thu: list[Hours]
    fri: list[Hours]
    sat: list[Hours]
    sun: list[Hours]


class SpecialDate(Out):
    date: IsoDay
    closed: bool
    hours: list[Hours]
    note: str


class Contact(Out):
    phone: str | None
    email: str | None
    address: str | None
    website: str | None


class BookingPolicy(Out):
    max_party_size: int
    max_days_ahead: int
    min_lead_minutes: int
    slot_minutes: int
    cancel_cutoff_minutes: int
    verify_public_bookings: bool


class RestaurantProfile(Out):
    slug: str
    name: str
    timezone: str
    contact: Contact
    hours: Week
    special_dates: list[SpecialDate]
    booking: BookingPolicy


class ProfileLike(Protocol):
    """Who the restaurant is and how to reach it (``store.restaurants.Profile``)."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def website(self) -> str | None: ...


def restaurant_profile(
    profile: ProfileLike, restaurant: Restaurant, today: dt.date
) -> RestaurantProfile:
    rules = restaurant.rules
    return RestaurantProfile(
        slug=profile.slug,
        name=profile.name,
        timezone=profile.timezone,
        contact=Contact(
            phone=profile.phone,
            email=profile.email,
            address=profile.address,
            website=profile.website,
        ),
        hours=weekly_hours(restaurant),
        special_dates=special_dates(restaurant, today),
        booking=BookingPolicy(
            max_party_size=rules.max_party_size,
            max_days_ahead=rules.max_days_ahead,
            min_lead_minutes=rules.min_lead_minutes,
            slot_minutes=rules.slot_minutes,
            cancel_cutoff_minutes=rules.cancel_cutoff_minutes,
            verify_public_bookings=rules.verify_public_bookings,  # ask for the code
        ),
    )


def weekly_hours(restaurant: Restaurant) -> Week:
    week: dict[str, list[Hours]] = {day: [] for day in WEEKDAYS}
    for service in sorted(restaurant.services, key=lambda s: (s.weekday, s.hours.opens)):
        week[WEEKDAYS[service.weekday]].append(hours(service.hours))
    return Week(**week)


def special_dates(restaurant: Restaurant, since: dt.date) -> list[SpecialDate]:
    return [
        SpecialDate(
            date=s.day.isoformat(),
            closed=s.closed,
            hours=[hours(h) for h in s.hours],
            note=s.note,
        )
        for s in sorted(restaurant.special_dates, key=lambda s: s.day)
        if s.day >= since
    ]


class Table(Out):
    code: str
    area: str
    min_capacity: int
    max_capacity: int
    active: bool


class Combination(Out):
    code: str
    tables: list[str]
    min_capacity: int
    max_capacity: int


# --- staff tokens ------------------------------------------------------------------------


class IssuedToken(Out):
    """The secret is in this answer only."""

    restaurant: str
    role: str
    name: str
    display_name: str | None
    expires_at: IsoInstant
    token: str


class StaffToken(Out):
    id: int
    name: str
    display_name: str | None
    role: str
    created_at: IsoInstant | None
    expires_at: IsoInstant | None
    revoked_at: IsoInstant | None
    last_used_at: IsoInstant | None = Field(description="To the nearest few minutes.")


# --- the waitlist -------------------------------------------------------------------------


class Offer(Out):
    start: IsoInstant | None
    expires_at: IsoInstant | None


class WaitlistEntry(Out):
    code: str
    restaurant: str
    day: IsoDay
    earliest: IsoInstant | None
    latest: IsoInstant | None
    party_size: int
    area: str | None
    name: str | None
    channel: str
    status: str
    offer: Offer | None
    reservation: str | None
    offers: int
    joined_at: IsoInstant | None
    version: int


class JoinedWaitlist(Out):
    entry: WaitlistEntry
    manage_token: str


class BookedFromWaitlist(Out):
    reservation: Reservation
    manage_token: str


class WaitlistDay(Out):
    date: IsoDay
    entries: list[WaitlistEntry]


class WaitlistOutcomes(Out):
    since: IsoDay = Field(alias="from")
    until: IsoDay = Field(alias="to")
    outcomes: dict[str, int] = Field(description="Entries per outcome in the period.")


# --- health ------------------------------------------------------------------------------


class Health(Out):
    status: Literal["ok"]


class Readiness(Out):
    """``redis`` only where Redis is configured."""

    status: Literal["ready", "degraded"]
    database: Literal["ok"]
    redis: Literal["ok", "down"] | None = None
