"""A restaurant's whole configuration as one validated document.

``saveit seed FILE`` and ``saveit demo`` load it from YAML/JSON; the admin API
reuses the pieces (``RulesSpec``, ``TableSpec`` …) so a file and a request are
checked by the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from saveit.admin.fields import HTTP_URL_PATTERN, GridTime, TimeZoneName, rules, text
from saveit.domain import errors
from saveit.domain.model import (
    Combination,
    Restaurant,
    Rules,
    ServiceHours,
    SpecialDate,
    Table,
    TurnTime,
    WeeklyService,
)
from saveit.store.restaurant_json import rules_to_json
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_WALL_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d(?::00)?", re.ASCII)


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Durations are whole claims of the booking grid (domain.model.CLAIM_MINUTES);
# ``Rules.problems`` checks it, the schema states it.
_ON_GRID: dict[str, Any] = {"multipleOf": 5}


class TurnTimeSpec(Spec):
    max_party: Annotated[int, Field(ge=1, le=1000)]
    minutes: Annotated[int, Field(ge=5, le=24 * 60, json_schema_extra=_ON_GRID)]


class RulesSpec(Spec):
    slot_minutes: Annotated[int, Field(ge=5, le=240, json_schema_extra=_ON_GRID)] = 15
    turn_times: list[TurnTimeSpec] = Field(
        default_factory=lambda: [
            TurnTimeSpec(max_party=2, minutes=90),
            TurnTimeSpec(max_party=4, minutes=120),
            TurnTimeSpec(max_party=1000, minutes=150),
        ],
        min_length=1,
        max_length=20,
    )
    buffer_minutes: Annotated[int, Field(ge=0, le=240, json_schema_extra=_ON_GRID)] = 15
    min_lead_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 60
    max_days_ahead: Annotated[int, Field(ge=0, le=730)] = 60
    max_party_size: Annotated[int, Field(ge=1, le=1000)] = 8
    cancel_cutoff_minutes: Annotated[int, Field(ge=0, le=30 * 24 * 60)] = 120
    pacing_covers_per_slot: Annotated[int, Field(ge=1, le=10000)] | None = None
    checkin_early_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 30
    checkin_late_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 45
    no_show_grace_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 20
    no_show_approval_after: Annotated[int, Field(ge=1, le=1000)] | None = None
    verify_public_bookings: bool = False

    def to_domain(self) -> Rules:
        return Rules(
            slot_minutes=self.slot_minutes,
            turn_times=tuple(TurnTime(t.max_party, t.minutes) for t in self.turn_times),
            buffer_minutes=self.buffer_minutes,
            min_lead_minutes=self.min_lead_minutes,
            max_days_ahead=self.max_days_ahead,
            max_party_size=self.max_party_size,
            cancel_cutoff_minutes=self.cancel_cutoff_minutes,
            pacing_covers_per_slot=self.pacing_covers_per_slot,
            checkin_early_minutes=self.checkin_early_minutes,
            checkin_late_minutes=self.checkin_late_minutes,
            no_show_grace_minutes=self.no_show_grace_minutes,
            no_show_approval_after=self.no_show_approval_after,
            verify_public_bookings=self.verify_public_bookings,
        )

    @model_validator(mode="after")
    def _usable(self) -> RulesSpec:
        problems = self.to_domain().problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def from_domain(cls, rules: Rules) -> RulesSpec:
        return cls.model_validate(rules_to_json(rules))


class HoursSpec(Spec):
    model_config = ConfigDict(
        json_schema_extra=rules("a service cannot open and close at the same time")
    )

    opens: GridTime
    closes: GridTime
    name: Annotated[str, text(64)] = ""

    @field_validator("opens", "closes", mode="before")
    @classmethod
    def _wall_clock(cls, value: object) -> object:
        """A local wall time written as ``HH:MM``: no offset (the restaurant's zone
        decides), no seconds-since-midnight number, nothing else pydantic would read."""
        if isinstance(value, time):
            return value
        if not isinstance(value, str) or not _WALL_TIME.fullmatch(value):
            raise ValueError("times are local wall-clock times written HH:MM")
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _on_claim_grid(cls, value: time) -> time:
        if value.second or value.microsecond or value.minute % 5:
            raise ValueError("times are whole minutes on a 5-minute grid")
        return value.replace(tzinfo=None)

    @field_serializer("opens", "closes")
    def _hh_mm(self, value: time) -> str:
        return value.strftime("%H:%M")

    @model_validator(mode="after")
    def _not_empty(self) -> HoursSpec:
        if self.opens == self.closes:
            raise ValueError("a service cannot open and close at the same time")
        return self

    def to_domain(self) -> ServiceHours:
        return ServiceHours(self.opens, self.closes, self.name)


class ServiceSpec(HoursSpec):
    days: list[Annotated[str, Field(pattern="^(mon|tue|wed|thu|fri|sat|sun)$")]] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, max_length=7
    )

    def weekly(self) -> list[WeeklyService]:
        hours = self.to_domain()
        return [WeeklyService(WEEKDAYS.index(d), hours) for d in dict.fromkeys(self.days)]


def services_as_specs(services: Iterable[WeeklyService]) -> list[ServiceSpec]:
    """Weekly rows regrouped as one spec per distinct window, listing its days."""
    grouped: dict[tuple[time, time, str], list[str]] = {}
    for s in sorted(services, key=lambda s: (s.hours.opens, s.weekday)):
        grouped.setdefault((s.hours.opens, s.hours.closes, s.hours.name), []).append(
            WEEKDAYS[s.weekday]
        )
    return [
        ServiceSpec(opens=opens, closes=closes, name=name, days=days)
        for (opens, closes, name), days in grouped.items()
    ]


def closed_or_hours() -> dict[str, Any]:
    """Closed without hours, or open with at least one window."""
    return {
        "anyOf": [
            {
                "required": ["closed"],
                "properties": {"closed": {"const": True}, "hours": {"maxItems": 0}},
            },
            {
                "required": ["hours"],
                "properties": {"closed": {"const": False}, "hours": {"minItems": 1}},
            },
        ]
    }


class SpecialDateSpec(Spec):
    model_config = ConfigDict(json_schema_extra=closed_or_hours())

    date: date
    closed: bool = False
    hours: list[HoursSpec] = Field(default_factory=list, max_length=10)
    note: Annotated[str, text(200)] = ""

    @model_validator(mode="after")
    def _closed_or_hours(self) -> SpecialDateSpec:
        if self.closed and self.hours:
            raise ValueError("a closed date has no hours")
        if not self.closed and not self.hours:
            raise ValueError("give the hours of the special date, or mark it closed")
        return self

    def to_domain(self) -> SpecialDate:
        return SpecialDate(
            self.date, self.closed, tuple(h.to_domain() for h in self.hours), self.note
        )


CAPACITIES = "min_capacity cannot exceed max_capacity"
TABLE_CODE = r"^[A-Za-z0-9_.-]+$"
COMBINATION_CODE = r"^[A-Za-z0-9_.+-]+$"


class TableSpec(Spec):
    model_config = ConfigDict(json_schema_extra=rules(CAPACITIES))

    code: Annotated[str, Field(min_length=1, max_length=32, pattern=TABLE_CODE)]
    area: Annotated[str, text(64, min_length=1)] = "indoor"
    min_capacity: Annotated[int, Field(ge=1, le=100)] = 1
    max_capacity: Annotated[int, Field(ge=1, le=100)]
    active: bool = True

    @model_validator(mode="after")
    def _capacities(self) -> TableSpec:
        if self.min_capacity > self.max_capacity:
            raise ValueError("min_capacity cannot exceed max_capacity")
        return self


class CombinationSpec(Spec):
    model_config = ConfigDict(json_schema_extra=rules(CAPACITIES))

    code: Annotated[str, Field(min_length=1, max_length=64, pattern=COMBINATION_CODE)]
    tables: list[Annotated[str, text(32, min_length=1)]] = Field(
        min_length=2, max_length=10, json_schema_extra={"uniqueItems": True}
    )
    min_capacity: Annotated[int, Field(ge=1, le=1000)] = 1
    max_capacity: Annotated[int, Field(ge=1, le=1000)]

    @model_validator(mode="after")
    def _capacities(self) -> CombinationSpec:
        if self.min_capacity > self.max_capacity:
            raise ValueError("min_capacity cannot exceed max_capacity")
        return self


WEBSITE = WithJsonSchema(
    {"type": "string", "maxLength": 500, "pattern": HTTP_URL_PATTERN},
)


class ContactSpec(Spec):
    phone: Annotated[str, text(32)] | None = None
    email: Annotated[str, text(254)] | None = None
    address: Annotated[str, text(500)] | None = None
    website: Annotated[str, Field(max_length=500), WEBSITE] | None = None

    @field_validator("website")
    @classmethod
    def _web_page(cls, value: str | None) -> str | None:
        """Shown to guests as a link: only an http(s) page, never ``javascript:``,
        ``data:`` or any other scheme a browser would run or open."""
        if value is None or value == "":
            return value
        parts = urlsplit(value)
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or not value.isprintable()
            or any(c.isspace() for c in value)
        ):
            raise ValueError("website must be an http:// or https:// address")
        return value


class ProfileChanges(Spec):
    # An owner's edit of the profile: only what is given changes. (No docstring:
    # it would become the schema's description.)

    name: Annotated[str, text(200, min_length=1)] | None = None
    timezone: TimeZoneName | None = None
    contact: ContactSpec | None = None

    @model_validator(mode="after")
    def _known_zone(self) -> ProfileChanges:
        if self.timezone is not None:
            check_timezone(self.timezone)
        return self


UNKNOWN_TABLES = "names unknown tables"


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone") from exc
    return value


def check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("a slug is lowercase letters, digits and dashes")
    return value


class RestaurantSpec(Spec):
    model_config = ConfigDict(json_schema_extra=rules(UNKNOWN_TABLES))

    slug: Annotated[str, Field(json_schema_extra={"pattern": _SLUG.pattern})]
    name: Annotated[str, text(200, min_length=1)]
    timezone: TimeZoneName = "Europe/Madrid"
    contact: ContactSpec = Field(default_factory=ContactSpec)
    rules: RulesSpec = Field(default_factory=RulesSpec)
    services: list[ServiceSpec] = Field(default_factory=list, max_length=50)
    special_dates: list[SpecialDateSpec] = Field(default_factory=list, max_length=400)
    tables: list[TableSpec] = Field(default_factory=list, max_length=500)
    combinations: list[CombinationSpec] = Field(default_factory=list, max_length=200)

    _slug = field_validator("slug")(classmethod(lambda cls, v: check_slug(v)))
    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @model_validator(mode="after")
    def _combinations_name_tables(self) -> RestaurantSpec:
        codes = {t.code for t in self.tables}
        for combo in self.combinations:
            unknown = [c for c in combo.tables if c not in codes]
            if unknown:
                raise ValueError(f"combination {combo.code} {UNKNOWN_TABLES} {unknown}")
        return self

    def to_domain(self, restaurant_id: int = 1) -> Restaurant:
        """The restaurant as the engine reads it after :func:`apply_spec`, without a
        database (ids from 1 in document order): for pure computations and tests."""
        tables = tuple(
            Table(i, t.code, t.area, t.min_capacity, t.max_capacity)
            for i, t in enumerate(self.tables, start=1)
        )
        ids = {t.code: t.id for t in tables}
        combos = [(c, tuple(ids[t] for t in c.tables)) for c in self.combinations]
        return Restaurant(
            id=restaurant_id,
            slug=self.slug,
            name=self.name,
            timezone=self.timezone,
            rules=self.rules.to_domain(),
            services=tuple(w for s in self.services for w in s.weekly()),
            special_dates=tuple(s.to_domain() for s in self.special_dates),
            tables=tables,
            combinations=tuple(
                Combination(i, c.code, of, c.min_capacity, c.max_capacity)
                for i, (c, of) in enumerate(combos, start=1)
            ),
        )


def apply_spec(db: Database | DatabaseLike, spec: RestaurantSpec) -> bool:
    """Create the restaurant the document describes, in one unit of work; False when
    the slug exists. ``db``: the database (or, in seeding scripts and tests, its engine)."""
    with database_of(db).unit_of_work() as uow:
        restaurants = uow.restaurants
        try:
            restaurants.id_of(spec.slug)
        except errors.NotFound:
            pass
        else:
            return False
        restaurant_id = restaurants.create(
            slug=spec.slug,
            name=spec.name,
            timezone=spec.timezone,
            rules=spec.rules.to_domain(),
            contact=spec.contact.model_dump(),
        )
        restaurants.set_services(restaurant_id, [w for s in spec.services for w in s.weekly()])
        for special in spec.special_dates:
            restaurants.put_special_date(restaurant_id, special.to_domain())
        for table in spec.tables:
            restaurants.upsert_table(restaurant_id, **table.model_dump())
        for combo in spec.combinations:
            restaurants.upsert_combination(
                restaurant_id,
                code=combo.code,
                table_codes=combo.tables,
                min_capacity=combo.min_capacity,
                max_capacity=combo.max_capacity,
            )
    return True


def parse_document(raw: Any) -> RestaurantSpec:
    return RestaurantSpec.model_validate(raw)
