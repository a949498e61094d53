"""What the bot remembers between messages, as the JSON the conversation row keeps.

The database row is the source of truth, so any process (or a guest's other,
linked channel) picks the dialogue up where it stopped. A pending request
(what the guest is booking, changing or cancelling, and what the bot last asked)
carries an expiry: an unconfirmed request left for longer than the restaurant's
patience is dropped rather than confirmed hours later by a stray "yes".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Any


@dataclass(slots=True)
class Request:
    """A booking, change or cancellation being put together."""

    flow: str  # "book" | "modify" | "cancel"
    day: str | None = None  # ISO date, local
    at: str | None = None  # HH:MM, local
    party_size: int | None = None
    name: str | None = None
    area: str | None = None
    code: str | None = None  # the guest's reservation a change or cancellation is about

    @property
    def date(self) -> date | None:
        return date.fromisoformat(self.day) if self.day else None

    @property
    def time(self) -> time | None:
        return time.fromisoformat(self.at) if self.at else None


@dataclass(slots=True)
class DialogueState:
    request: Request | None = None
    awaiting: str | None = None  # what the last question asked for
    expires_at: str | None = None  # ISO instant; the request is dropped after it
    misses: int = 0  # messages in a row the bot did not understand

    @classmethod
    def load(cls, raw: dict[str, Any]) -> DialogueState:
        request = raw.get("request")
        return cls(
            request=Request(**request) if isinstance(request, dict) else None,
            awaiting=raw.get("awaiting"),
            expires_at=raw.get("expires_at"),
            misses=int(raw.get("misses", 0)),
        )

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    def expired(self, now: datetime) -> bool:
        return (
            self.request is not None
            and self.expires_at is not None
            and datetime.fromisoformat(self.expires_at) <= now
        )

    def clear(self) -> None:
        self.request = None
        self.awaiting = None
        self.expires_at = None
