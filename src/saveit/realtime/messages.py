"""What a live subscriber receives: reservation changes, the availability they
imply, and snapshots.

Every message is one JSON object with a ``type`` and a ``position``. The
position is the outbox id of the event behind it (the database's order, and
the same number whether the event travelled through Redis or was read from the
outbox table), so a client that reconnects with the last position it saw gets
exactly what it missed. ``availability.changed`` is derived here rather than
written to the outbox: it is a pure function of a reservation event (the
service day of the reservation, and of its old start on a move), so every
process derives the same thing from the same event.

All messages derived from one event share its position and arrive together,
the reservation message first; ``completes`` marks the last of them. A client
should resume from the position of a *complete* event (SSE does this by itself:
only the completing message carries an ``id:``), or it may miss the tail of
the group it was cut in.

Messages are serialised once per event, in the feed thread, and the same text
is sent to every subscriber: fan-out costs a queue put per subscriber, not a
``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from saveit.domain.events import Event
from saveit.domain.model import Restaurant
from saveit.domain.schedule import day_of

AVAILABILITY_CHANGED = "availability.changed"
SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """One message for one restaurant's subscribers, already serialised."""

    restaurant_id: int
    position: int
    event_id: str  # the source event's id ("" for snapshots); dedup key on replay
    type: str
    text: str
    completes: bool = True  # the last message derived from its event (or a snapshot)


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), default=str)


def affected_days(event: Event, restaurant: Restaurant) -> list[date]:
    """Service days whose availability the event changed: the new one and, on a move, the old."""
    days: list[date] = []
    for key in ("before", "reservation"):
        snap = event.payload.get(key)
        if not isinstance(snap, Mapping) or not isinstance(snap.get("start"), str):
            continue
        try:
            start = datetime.fromisoformat(snap["start"])
        except ValueError:
            continue
        day = day_of(restaurant, start)
        if day not in days:
            days.append(day)
    return sorted(days)


def event_messages(
    event: Event, restaurant_of: Callable[[Event], Restaurant | None]
) -> list[LiveMessage]:
    """The reservation message for ``event``, then one ``availability.changed`` per day.

    ``restaurant_of`` returns None for a restaurant that no longer exists; the
    event is then still forwarded but no availability is derived.
    """
    restaurant = restaurant_of(event)
    slug = restaurant.slug if restaurant else event.payload.get("reservation", {}).get("restaurant")
    doc: dict[str, Any] = {
        "type": event.type,
        "position": event.outbox_id,
        "event_id": event.event_id,
        "restaurant": slug,
        "at": event.created_at.isoformat(),
    }
    shown = ("reservation", "before", "actor", "channel", "message", "conversation_id")
    for key in (*shown, "entry", "waitlist_entry", "survey"):  # waitlist steps, survey answers
        if key in event.payload:
            doc[key] = event.payload[key]
    out = [_message(event, event.type, doc)]
    if restaurant is not None and event.type.startswith("reservation."):
        for day in affected_days(event, restaurant):
            avail = {
                "type": AVAILABILITY_CHANGED,
                "position": event.outbox_id,
                "event_id": event.event_id,
                "restaurant": restaurant.slug,
                "date": day.isoformat(),
            }
            out.append(_message(event, AVAILABILITY_CHANGED, avail))
    return [
        LiveMessage(m.restaurant_id, m.position, m.event_id, m.type, m.text, i == len(out) - 1)
        for i, m in enumerate(out)
    ]


def _message(event: Event, type_: str, doc: Mapping[str, Any]) -> LiveMessage:
    return LiveMessage(event.restaurant_id, event.outbox_id, event.event_id, type_, _dumps(doc))


def snapshot_message(
    restaurant_id: int, slug: str, day: date, position: int, reservations: list[dict[str, Any]]
) -> LiveMessage:
    """The day's reservations as of ``position``: what a client shows instead of replaying."""
    doc = {
        "type": SNAPSHOT,
        "position": position,
        "restaurant": slug,
        "date": day.isoformat(),
        "reservations": reservations,
    }
    return LiveMessage(restaurant_id, position, "", SNAPSHOT, _dumps(doc))
