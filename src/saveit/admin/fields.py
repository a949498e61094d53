"""The value types of request bodies and parameters, each carrying the rule it is
checked by into the OpenAPI document: a client (or a schema-driven fuzzer) that
keeps to the published schema is never refused as ``VALIDATION_ERROR``.

A rule JSON Schema can state goes in as a keyword (a pattern, a bound, an
enumeration, ``anyOf`` for either-or bodies). A rule it cannot state (one field
compared with another, a name that must exist) goes in ``x-rules``: each entry is
the text the refusal's message carries, so a reader and a fuzzer can tell a
documented refusal from an undocumented one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, WithJsonSchema

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2199, 12, 31)
RULES = "x-rules"

# The request guard refuses NUL anywhere in a body (PostgreSQL text cannot hold it);
# text that must say something is also checked after surrounding spaces are stripped.
NO_NUL = r"^[^\u0000]*$"
SAYS_SOMETHING = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
_YEAR = r"2[01][0-9]{2}"
DAY_PATTERN = rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
INSTANT_PATTERN = rf"^{_YEAR}-"
WALL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
GRID_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][05](:00)?$"
HTTP_URL_PATTERN = (
    r"^$|^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?(/[!-~]*)?$"
)
TIMEZONES = sorted(available_timezones())
# Checked where the data is (the booking engine, the guest book), and stated here.
NOT_A_PHONE = "is not a phone number"
NOT_AN_EMAIL = "is not an email address"


def text(max_length: int, *, min_length: int = 0, **extra: Any) -> Any:
    """A ``Field`` for free text: the lengths checked, and in the schema the
    characters the guard refuses (and, when it must not be empty, that blanks
    alone do not count)."""
    pattern = SAYS_SOMETHING if min_length else NO_NUL
    return Field(
        min_length=min_length or None,
        max_length=max_length,
        json_schema_extra={"pattern": pattern, **extra},
    )


def rules(*texts: str) -> dict[str, Any]:
    """``json_schema_extra`` for a model whose fields are checked against each other."""
    return {RULES: list(texts), "description": "Also: " + "; ".join(texts) + "."}


def _plausible_day(value: dt.date) -> dt.date:
    """Far-off dates are typos, and near the calendar's ends the UTC conversions overflow."""
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"dates run from {EARLIEST} to {LATEST}")
    return value


def _plausible_instant(value: dt.datetime) -> dt.datetime:
    _plausible_day(value.date())
    return value


Day = Annotated[
    dt.date,
    AfterValidator(_plausible_day),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": DAY_PATTERN,
            "description": f"A day from {EARLIEST} to {LATEST}.",
        }
    ),
]
Instant = Annotated[
    AwareDatetime,
    AfterValidator(_plausible_instant),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": INSTANT_PATTERN,
            "description": "An instant with its UTC offset, in the years 2000 to 2199.",
        }
    ),
]
WallTime = Annotated[
    dt.time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": WALL_TIME_PATTERN,
            "description": "The restaurant's local wall time, HH:MM, without an offset.",
        }
    ),
]
GridTime = Annotated[
    dt.time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": GRID_TIME_PATTERN,
            "description": "A local wall time HH:MM on the 5-minute grid, without an offset.",
        }
    ),
]
TimeZoneName = Annotated[
    str,
    Field(max_length=64),
    WithJsonSchema({"type": "string", "enum": TIMEZONES, "description": "An IANA time zone."}),
]
IsoInstant = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
IsoDay = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]


def _null() -> dict[str, Any]:
    return {"type": "null"}


def _given() -> dict[str, Any]:
    return {"not": {"type": "null"}}


def either_start_or_day_and_time(*, required: bool) -> dict[str, Any]:
    """``start``, or ``date`` with ``time``, never both; when not ``required``,
    neither is fine too (a null counts as absent)."""
    by_day = {
        "required": ["date", "time"],
        "properties": {"date": _given(), "time": _given(), "start": _null()},
    }
    by_start = {
        "required": ["start"],
        "properties": {"start": _given(), "date": _null(), "time": _null()},
    }
    without_day = {"properties": {"date": _null(), "time": _null()}}
    return {"anyOf": [by_start if required else without_day, by_day]}


def _integral(value: object) -> object:
    """JSON has one number type: ``2.0`` is the integer 2 to JSON Schema, so it is
    here too (strings and booleans stay refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integral = BeforeValidator(_integral)
