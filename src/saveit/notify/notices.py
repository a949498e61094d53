"""Which booking events a guest hears about, and as which notice: the notifier's
reading of the event stream, kept apart from how a notice is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from saveit.domain import events
from saveit.domain.messages import CHANNELS
from saveit.domain.model import Status


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell a guest about one booking."""

    kind: str  # the sent-record's kind: "modification:3", "reminder:120:29461080", ...
    text_key: str  # which text: "confirmation", "cancellation_by_restaurant", ...
    origin: str | None = None  # the chat the guest acted in (the bot answered there)
    reason: str = ""


NOTIFIED = frozenset(
    {
        events.RESERVATION_CREATED,
        events.RESERVATION_CONFIRMED,
        events.RESERVATION_MODIFIED,
        events.RESERVATION_CANCELLED,
        events.RESERVATION_NO_SHOW,
    }
)


def notice_for(event: events.Event) -> Notice | None:
    payload: dict[str, Any] = dict(event.payload)
    shown = payload.get("reservation") or {}
    actor = str(payload.get("actor", ""))
    channel = str(payload.get("channel", ""))
    origin = channel if actor.startswith("guest:") and channel in CHANNELS else None
    if event.type == events.RESERVATION_CREATED:
        key = "pending" if shown.get("status") == Status.PENDING.value else "confirmation"
        return Notice(key, key, origin)
    if event.type == events.RESERVATION_CONFIRMED:
        return Notice("confirmation", "confirmation")
    if event.type == events.RESERVATION_MODIFIED:
        before = payload.get("before") or {}
        if before.get("start") == shown.get("start") and before.get("party_size") == shown.get(
            "party_size"
        ):
            return None  # tables or notes: nothing the guest needs to hear about
        return Notice(f"modification:{shown.get('version')}", "modification", origin)
    if event.type == events.RESERVATION_CANCELLED:
        by_restaurant = not actor.startswith("guest:")
        key = "cancellation_by_restaurant" if by_restaurant else "cancellation"
        return Notice("cancellation", key, origin, str(shown.get("reason", "")))
    if event.type == events.RESERVATION_NO_SHOW:
        return Notice("no_show", "no_show")
    return None
