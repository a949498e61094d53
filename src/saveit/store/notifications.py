"""The notifications sent-record, and which channels a guest lets us use.

A row per ``(reservation, kind, channel)`` is inserted in the same transaction
that queues the message, under a unique key: an event delivered twice, a
worker restarted mid-batch or two schedulers racing all find the row there and
queue nothing. ``kind`` carries what makes two notices different notices: the
version for a change, the offset and the start for a reminder.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from saveit.store.conversations import Identity
from saveit.store.database import ignoring_conflicts
from saveit.store.repository import Repository, bound
from saveit.store.schema import channel_identities, guests, notifications


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


@dataclass(frozen=True, slots=True)
class Reach:
    """What decides where a guest can be told something: their choice of channels
    (None: never chose), their contact details and their identities."""

    chosen: list[str] | None
    email: str | None
    phone: str | None
    identities: list[Identity]


_ci = channel_identities
_REACH = (
    select(
        guests.c.id.label("guest_id"),
        guests.c.notify_channels,
        guests.c.email,
        guests.c.phone,
        _ci.c.id.label("identity_id"),
        _ci.c.restaurant_id,
        _ci.c.channel,
        _ci.c.external_id,
        _ci.c.last_inbound_at,
    )
    .select_from(
        guests.outerjoin(
            _ci,
            and_(
                _ci.c.guest_id == guests.c.id,
                _ci.c.channel.in_(bindparam("channels", expanding=True)),
            ),
        )
    )
    .where(guests.c.id.in_(bindparam("guest_ids", expanding=True)))
    .order_by(guests.c.id, _ci.c.id)
)


def reach(conn: Connection, guest_id: int, channels: Collection[str]) -> Reach | None:
    """The guest's :class:`Reach` in one query, with only their identities on
    ``channels``; None when there is no such guest (merged into another since)."""
    return reach_many(conn, [guest_id], channels).get(guest_id)


def reach_many(
    conn: Connection, guest_ids: Collection[int], channels: Collection[str]
) -> dict[int, Reach]:
    """Each of these guests' :class:`Reach` in one query (a batch of events' guests);
    a guest that no longer exists is missing from the answer."""
    if not guest_ids:
        return {}
    params = {"guest_ids": sorted(set(guest_ids)), "channels": sorted(channels)}
    found: dict[int, Reach] = {}
    for row in conn.execute(_REACH, params):
        guest_id = int(row.guest_id)
        known = found.get(guest_id)
        if known is None:
            chosen = row.notify_channels
            known = found[guest_id] = Reach(
                chosen=None if chosen is None else [str(c) for c in chosen],
                email=row.email,
                phone=row.phone,
                identities=[],
            )
        if row.identity_id is not None:
            known.identities.append(
                Identity(
                    id=int(row.identity_id),
                    restaurant_id=int(row.restaurant_id),
                    channel=row.channel,
                    external_id=row.external_id,
                    guest_id=guest_id,
                    last_inbound_at=row.last_inbound_at,
                )
            )
    return found


class NotificationRepository(Repository):
    """Notices sent about reservations, and where a guest wants them."""

    claim = bound(claim)
    attach = bound(attach)
    of_reservation = bound(of_reservation)
    channels_of = bound(channels_of)
    set_channels = bound(set_channels)
    reach = bound(reach)
    reach_many = bound(reach_many)
