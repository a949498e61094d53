"""Request bodies: strict (unknown fields and wrong types are 422s), and each
rule they are checked by stated in the OpenAPI (see :mod:`saveit.admin.fields`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from saveit.admin.fields import (
    NOT_A_PHONE,
    NOT_AN_EMAIL,
    Day,
    Instant,
    Integral,
    WallTime,
    either_start_or_day_and_time,
    rules,
    text,
)
from saveit.admin.setup import (
    CAPACITIES,
    HoursSpec,
    ProfileChanges,
    closed_or_hours,
)
from saveit.domain import errors

__all__ = ["NOT_AN_EMAIL", "NOT_A_PHONE", "Day", "Instant", "ProfileChanges", "rules", "text"]

NO_SUCH_TABLE = "No table"  # a combination's table the restaurant does not have
UNKNOWN_TABLES = "Unknown table(s)"
TWO_TABLES = "A combination joins at least two different tables"  # once blanks are stripped
NO_SUCH_TIME = "does not exist in"  # a local time the clock skips (DST)
NO_CONTACT = "Give a phone number or an email"  # guests; staff may leave both out
CONTACT = (NOT_A_PHONE, NOT_AN_EMAIL, NO_CONTACT)

Channel = Literal["web", "whatsapp", "instagram", "webchat", "email", "sms", "phone", "api"]
PartySize = Annotated[int, Field(strict=True, ge=1, le=1000), Integral]
TableCode = Annotated[str, text(32, min_length=1)]
Version = Annotated[int, Field(strict=True, ge=1), Integral]
Area = Annotated[str, text(64, min_length=1)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def when_rules(*, required: bool, also: tuple[str, ...] = ()) -> dict[str, Any]:
    return either_start_or_day_and_time(required=required) | rules(NO_SUCH_TIME, *also)


class When(Body):
    """Either an instant with its offset, or a local wall time at the restaurant."""

    model_config = ConfigDict(json_schema_extra=when_rules(required=False))

    start: Instant | None = None
    date: Day | None = None
    time: WallTime | None = None

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
    model_config = ConfigDict(
        json_schema_extra=when_rules(required=True, also=(*CONTACT, UNKNOWN_TABLES))
    )

    party_size: PartySize
    name: Annotated[str, text(200, min_length=1)]
    phone: Annotated[str, text(32)] | None = None
    email: Annotated[str, text(254)] | None = None
    language: Literal["es", "en"] | None = None
    notes: Annotated[str, text(1000)] = ""
    area: Area | None = None
    tables: Annotated[list[TableCode], Field(max_length=20)] | None = None
    source: Channel = "web"
    status: Literal["pending", "confirmed"] | None = None

    @model_validator(mode="after")
    def _has_time(self) -> NewReservation:
        if self.start is None and self.date is None:
            raise ValueError("give start, or date and time")
        return self


class ReservationChanges(When):
    model_config = ConfigDict(json_schema_extra=when_rules(required=False, also=(UNKNOWN_TABLES,)))

    party_size: PartySize | None = None
    notes: Annotated[str, text(1000)] | None = None
    tables: Annotated[list[TableCode], Field(min_length=1, max_length=20)] | None = None
    version: Version | None = None


class Cancellation(Body):
    reason: Annotated[str, text(500)] = ""
    version: Version | None = None


class StatusChange(Body):
    version: Version | None = None


class NewWalkIn(Body):
    model_config = ConfigDict(json_schema_extra=rules(UNKNOWN_TABLES))

    party_size: PartySize
    name: Annotated[str, text(200)] = ""
    tables: Annotated[list[TableCode], Field(max_length=20)] | None = None
    area: Area | None = None
    notes: Annotated[str, text(1000)] = ""


class SpecialDateBody(Body):
    model_config = ConfigDict(json_schema_extra=closed_or_hours())

    closed: bool = False
    hours: Annotated[list[HoursSpec], Field(max_length=10)] = Field(default_factory=list)
    note: Annotated[str, text(200)] = ""


class TableBody(Body):
    model_config = ConfigDict(json_schema_extra=rules(CAPACITIES))

    area: Area = "indoor"
    min_capacity: Annotated[int, Field(strict=True, ge=1, le=100), Integral] = 1
    max_capacity: Annotated[int, Field(strict=True, ge=1, le=100), Integral]
    active: bool = True


class CombinationBody(Body):
    model_config = ConfigDict(
        json_schema_extra=rules(CAPACITIES, NO_SUCH_TABLE, TWO_TABLES, "Capacities must satisfy")
    )

    tables: Annotated[
        list[TableCode], Field(min_length=2, max_length=10, json_schema_extra={"uniqueItems": True})
    ]
    min_capacity: Annotated[int, Field(strict=True, ge=1, le=1000), Integral] = 1
    max_capacity: Annotated[int, Field(strict=True, ge=1, le=1000), Integral]


class NewToken(Body):
    role: Literal["host", "manager", "owner"]
    name: Annotated[str, text(100, min_length=1)]
    display_name: Annotated[
        str | None,
        text(
            48,
            min_length=1,
            description="What guests see when this token's holder writes to them "
            '(default "el equipo" / "Staff"); `name` is for the audit log only.',
        ),
    ] = None
    ttl_days: Annotated[
        int | None,
        Field(ge=1, description="Lifetime in days (default and maximum: the server's settings)."),
    ] = None
