"""What a guest's data export and erasure answer (see :mod:`saveit.api.responses`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue, WithJsonSchema

from saveit.admin.fields import IsoInstant
from saveit.api.responses import Out


class Erased(Out):
    guest_id: int
    erased_at: IsoInstant
    counts: dict[str, int] = Field(description="Rows touched per table.")


AnyJson = Annotated[
    JsonValue,
    WithJsonSchema(
        {
            "type": ["string", "number", "boolean", "object", "array", "null"],
            "description": "As stored (audit snapshots and provider payloads keep their shape).",
        }
    ),
]
Row = dict[str, AnyJson]


class ExportedGuest(Out):
    id: int
    name: str | None
    phone: str | None
    email: str | None
    language: str | None
    notes: str | None
    allergies: AnyJson
    tags: AnyJson
    visit_count: int | None
    no_show_count: int | None
    notify_channels: AnyJson
    created_at: IsoInstant | None
    updated_at: IsoInstant | None


class ExportedIdentity(Out):
    channel: str
    external_id: str
    display_name: str | None
    last_inbound_at: IsoInstant | None
    created_at: IsoInstant | None


class ExportedRestaurant(Out):
    slug: str
    name: str


class GuestExport(Out):
    """Everything stored about one guest of one restaurant (``format`` names the version)."""

    model_config = ConfigDict(extra="allow")

    format: str
    exported_at: IsoInstant
    restaurant: ExportedRestaurant
    guest: ExportedGuest
    identities: list[ExportedIdentity]
    reservations: list[Row]
    conversations: list[Row]
    link_codes: list[Row]
    erasures: list[Row]
