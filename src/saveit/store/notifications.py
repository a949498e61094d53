"""The notifications sent-record, and which channels a guest lets us use.

A row per ``(reservation, kind, channel)`` is inserted in the same transaction
that queues the message, under a unique key: an event delivered twice, a
worker restarted mid-batch or two schedulers racing all find the row there and
queue nothing. ``kind`` carries what makes two notices different notices: the
version for a change, the offset and the start for a reminder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from saveit.store.database import ignoring_conflicts
from saveit.store.schema import guests, notifications


def claim(
    conn: Connection,
    *,
    restaurant_id: int,
    reservation_id: int,
    kind: str,
    channel: str,
    now: datetime,
) -> int | None:
    """The new sent-record's id, or None when this notice went out already."""
    row = conn.execute(
        ignoring_conflicts(conn.dialect.name, notifications, notifications.c.id),
        {
            "restaurant_id": restaurant_id,
            "reservation_id": reservation_id,
            "kind": kind[:64],
            "channel": channel,
            "created_at": now,
        },
    ).first()
    return None if row is None else int(row.id)


def attach(conn: Connection, notification_id: int, message_id: int) -> None:
    conn.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(message_id=message_id)
    )


def of_reservation(conn: Connection, reservation_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(notifications)
        .where(notifications.c.reservation_id == reservation_id)
        .order_by(notifications.c.id)
    )
    return [dict(row._mapping) for row in rows]


def channels_of(conn: Connection, guest_id: int) -> list[str] | None:
    """The guest's choice of channels; None when they never chose (the default applies)."""
    chosen = conn.execute(
        select(guests.c.notify_channels).where(guests.c.id == guest_id)
    ).scalar_one_or_none()
    return None if chosen is None else [str(c) for c in chosen]


def set_channels(conn: Connection, guest_id: int, channels: Sequence[str] | None) -> None:
    conn.execute(
        update(guests)
        .where(guests.c.id == guest_id)
        .values(notify_channels=None if channels is None else list(dict.fromkeys(channels)))
    )
