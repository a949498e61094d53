"""The event as consumers see it, and its flat wire form.

An :class:`Event` is a published outbox row. Its ``event_id`` (a UUID written in
the booking transaction) is the identity consumers deduplicate on: the relay
and the bus deliver at least once, so the same id can arrive twice. The wire
form is a flat ``str -> str`` mapping because that is what a Redis Streams
entry holds; the in-process bus uses the same form so that the embedded mode
fails the same way production would on a payload that does not serialise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RESERVATION_CREATED = "reservation.created"
RESERVATION_MODIFIED = "reservation.modified"
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_CONFIRMED = "reservation.confirmed"
RESERVATION_CHECKED_IN = "reservation.checked_in"
RESERVATION_NO_SHOW = "reservation.no_show"
RESERVATION_COMPLETED = "reservation.completed"
RESERVATION_WALK_IN = "reservation.walk_in"
RESERVATION_ATTENDANCE_CONFIRMED = "reservation.attendance_confirmed"
MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
MESSAGE_FAILED = "message.failed"
CONVERSATION_HANDED_OFF = "conversation.handed_off"
GUESTS_MERGED = "guests.merged"
GUEST_ERASED = "guest.erased"  # payload: guest id, who erased it; never the data

EVENT_TYPES: tuple[str, ...] = (
    RESERVATION_CREATED,
    RESERVATION_MODIFIED,
    RESERVATION_CANCELLED,
    RESERVATION_CONFIRMED,
    RESERVATION_CHECKED_IN,
    RESERVATION_NO_SHOW,
    RESERVATION_COMPLETED,
    RESERVATION_WALK_IN,
    RESERVATION_ATTENDANCE_CONFIRMED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    MESSAGE_FAILED,
    CONVERSATION_HANDED_OFF,
    GUESTS_MERGED,
    GUEST_ERASED,
)

_FIELDS = ("event_id", "type", "restaurant_id", "created_at", "outbox_id", "payload")


class MalformedEvent(ValueError):
    """A bus entry that is not an event this code can read (never retried)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One published outbox row. ``outbox_id`` orders events; ``event_id`` identifies them."""

    event_id: str
    type: str
    restaurant_id: int
    payload: Mapping[str, Any] = field(hash=False)
    created_at: datetime
    outbox_id: int

    def to_fields(self) -> dict[str, str]:
        """The flat wire form (a Redis Streams entry)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "restaurant_id": str(self.restaurant_id),
            "created_at": self.created_at.isoformat(),
            "outbox_id": str(self.outbox_id),
            "payload": json.dumps(self.payload, separators=(",", ":"), sort_keys=True),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Event:
        missing = [name for name in _FIELDS if name not in fields]
        if missing:
            raise MalformedEvent(f"event entry lacks {', '.join(missing)}")
        try:
            payload = json.loads(fields["payload"])
            created_at = datetime.fromisoformat(fields["created_at"])
            restaurant_id = int(fields["restaurant_id"])
            outbox_id = int(fields["outbox_id"])
        except ValueError as exc:
            raise MalformedEvent(f"unreadable event entry: {exc}") from exc
        if not isinstance(payload, dict) or created_at.tzinfo is None:
            raise MalformedEvent("event payload must be an object and created_at aware")
        return cls(
            event_id=fields["event_id"],
            type=fields["type"],
            restaurant_id=restaurant_id,
            payload=payload,
            created_at=created_at,
            outbox_id=outbox_id,
        )
