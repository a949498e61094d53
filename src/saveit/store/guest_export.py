"""Everything stored about one guest of one restaurant, as one JSON document.

What a guest may ask to see (and staff hand over): the profile, channel
identities, reservations with their audit history and the notices sent about
them, conversations with every message in and out (the provider's raw payload
included), link codes asked for or sent to them, and earlier erasures. Rows are
chosen by the guest's own keys only, so nothing about another guest, or
another restaurant, comes along: a link code someone else asked for to reach
this guest's contact shows the contact and the times, not who asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from saveit.store.erasure import erasures_of
from saveit.store.repository import Repository, bound
from saveit.store.schema import (
    channel_identities,
    channel_messages,
    conversations,
    dining_tables,
    guests,
    link_codes,
    notifications,
    reservation_log,
    reservation_tables,
    reservations,
    restaurants,
)

FORMAT = "saveit.guest-export/1"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _doc(row: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: _iso(row._mapping[name]) for name in names}


def export(
    conn: Connection, restaurant_id: int, guest_id: int, now: datetime
) -> dict[str, Any] | None:
    """The document; None when the restaurant has no such guest."""
    guest = conn.execute(
        select(guests).where(guests.c.id == guest_id, guests.c.restaurant_id == restaurant_id)
    ).first()
    if guest is None:
        return None
    restaurant = conn.execute(
        select(restaurants.c.slug, restaurants.c.name).where(restaurants.c.id == restaurant_id)
    ).one()
    identities = conn.execute(
        select(channel_identities)
        .where(channel_identities.c.guest_id == guest_id)
        .order_by(channel_identities.c.id)
    ).all()
    return {
        "format": FORMAT,
        "exported_at": now.isoformat(),
        "restaurant": {"slug": restaurant.slug, "name": restaurant.name},
        "guest": _doc(
            guest,
            (
                "id",
                "name",
                "phone",
                "email",
                "language",
                "notes",
                "allergies",
                "tags",
                "visit_count",
                "no_show_count",
                "notify_channels",
                "created_at",
                "updated_at",
            ),
        ),
        "identities": [
            _doc(i, ("channel", "external_id", "display_name", "last_inbound_at", "created_at"))
            for i in identities
        ],
        "reservations": _reservations(conn, guest_id),
        "conversations": _conversations(conn, guest_id, [int(i.id) for i in identities]),
        "link_codes": _link_codes(
            conn,
            guest_id,
            [int(i.id) for i in identities],
            [c for c in (guest.phone, guest.email) if c],
            restaurant_id,
        ),
        "erasures": erasures_of(conn, restaurant_id, guest_id),
    }


def _reservations(conn: Connection, guest_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(reservations).where(reservations.c.guest_id == guest_id).order_by(reservations.c.id)
    ).all()
    ids = [int(r.id) for r in rows]
    tables: dict[int, list[str]] = {i: [] for i in ids}
    history: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    notices: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for reservation_id, code in conn.execute(
            select(reservation_tables.c.reservation_id, dining_tables.c.code)
            .join(dining_tables, dining_tables.c.id == reservation_tables.c.table_id)
            .where(reservation_tables.c.reservation_id.in_(ids))
        ):
            tables[reservation_id].append(code)
        for entry in conn.execute(
            select(reservation_log)
            .where(reservation_log.c.reservation_id.in_(ids))
            .order_by(reservation_log.c.id)
        ):
            history[entry.reservation_id].append(
                _doc(entry, ("at", "actor", "channel", "action", "before", "after"))
            )
        for notice in conn.execute(
            select(notifications, channel_messages.c.public_id)
            .outerjoin(channel_messages, channel_messages.c.id == notifications.c.message_id)
            .where(notifications.c.reservation_id.in_(ids))
            .order_by(notifications.c.id)
        ):
            doc = _doc(notice, ("kind", "channel", "created_at"))
            doc["message_id"] = notice.public_id
            notices[notice.reservation_id].append(doc)
    return [
        {
            **_doc(
                r,
                (
                    "code",
                    "party_size",
                    "start_at",
                    "end_at",
                    "status",
                    "source",
                    "notes",
                    "area_preference",
                    "created_by",
                    "created_at",
                    "updated_at",
                ),
            ),
            "tables": sorted(tables[r.id]),
            "history": history[r.id],
            "notifications": notices[r.id],
        }
        for r in rows
    ]


def _conversations(
    conn: Connection, guest_id: int, identity_ids: list[int]
) -> list[dict[str, Any]]:
    found = conn.execute(
        select(conversations)
        .where(conversations.c.guest_id == guest_id)
        .order_by(conversations.c.id)
    ).all()
    conversation_ids = [int(c.id) for c in found]
    m = channel_messages
    mine = [m.c.conversation_id.in_(conversation_ids)]
    if identity_ids:
        mine.append(m.c.identity_id.in_(identity_ids))
    messages = conn.execute(select(m).where(or_(*mine)).order_by(m.c.id)).all()
    by_conversation: dict[int | None, list[dict[str, Any]]] = {}
    for message in messages:
        doc = _doc(
            message,
            (
                "direction",
                "channel",
                "address",
                "status",
                "author",
                "text",
                "body",
                "raw",
                "error_code",
                "created_at",
                "redacted_at",
            ),
        )
        doc["id"] = message.public_id
        by_conversation.setdefault(message.conversation_id, []).append(doc)
    out = [
        {
            **_doc(c, ("language", "state", "handoff", "created_at", "last_message_at")),
            "messages": by_conversation.pop(int(c.id), []),
        }
        for c in found
    ]
    if by_conversation:  # stored from the guest's identity before a conversation took it
        out.append(
            {
                "language": None,
                "state": {},
                "handoff": False,
                "created_at": None,
                "last_message_at": None,
                "messages": [doc for docs in by_conversation.values() for doc in docs],
            }
        )
    return out


def _link_codes(
    conn: Connection,
    guest_id: int,
    identity_ids: list[int],
    contacts: list[str],
    restaurant_id: int,
) -> list[dict[str, Any]]:
    """Codes the guest asked for, and codes sent to their contact (whoever asked)."""
    mine = [link_codes.c.guest_id == guest_id]
    if identity_ids:
        mine.append(link_codes.c.identity_id.in_(identity_ids))
    if contacts:
        mine.append(
            and_(link_codes.c.restaurant_id == restaurant_id, link_codes.c.contact.in_(contacts))
        )
    rows = conn.execute(select(link_codes).where(or_(*mine)).order_by(link_codes.c.id)).all()
    return [
        _doc(r, ("contact", "attempts", "created_at", "expires_at", "consumed_at")) for r in rows
    ]


class ExportRepository(Repository):
    """A guest's data as one document (the right of access)."""

    export = bound(export)
