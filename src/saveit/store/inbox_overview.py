"""The staff inbox's list: a restaurant's conversations with who the guest is and
what was said last, the ones handed to a person first, then the newest.

Three statements whatever the length of the list: the conversations with their
guests, the last message of each, and the channels each guest has written from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from saveit.store.conversations import Conversation, conversation_from_row
from saveit.store.repository import Repository, bound
from saveit.store.schema import channel_identities, channel_messages, conversations, guests


@dataclass(frozen=True, slots=True)
class LastMessage:
    direction: str  # in | out
    author: str  # guest | bot | staff:<name>
    text: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InboxEntry:
    conversation: Conversation
    guest_name: str
    guest_phone: str | None
    guest_email: str | None
    channels: list[str]  # every channel the guest has written from
    last: LastMessage | None


def overview(
    conn: Connection, restaurant_id: int, *, limit: int = 50, guest_id: int | None = None
) -> list[InboxEntry]:
    """Handed-over conversations on top, then by the guest's latest message."""
    query = (
        select(
            conversations,
            guests.c.name.label("g_name"),
            guests.c.phone.label("g_phone"),
            guests.c.email.label("g_email"),
        )
        .join(guests, guests.c.id == conversations.c.guest_id)
        .where(conversations.c.restaurant_id == restaurant_id)
        .order_by(
            conversations.c.handoff.desc(),
            conversations.c.last_message_at.desc(),
            conversations.c.id.desc(),
        )
        .limit(limit)
    )
    if guest_id is not None:
        query = query.where(conversations.c.guest_id == guest_id)
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [int(r.id) for r in rows]
    guest_ids = sorted({int(r.guest_id) for r in rows})
    m = channel_messages
    newest = (
        select(func.max(m.c.id))
        .where(m.c.conversation_id.in_(ids))
        .group_by(m.c.conversation_id)
        .scalar_subquery()
    )
    last: dict[int, LastMessage] = {
        int(r.conversation_id): LastMessage(r.direction, r.author, r.text, r.status, r.created_at)
        for r in conn.execute(
            select(
                m.c.conversation_id, m.c.direction, m.c.author, m.c.text, m.c.status, m.c.created_at
            ).where(m.c.id.in_(newest))
        )
    }
    channels: dict[int, set[str]] = {g: set() for g in guest_ids}
    for r in conn.execute(
        select(channel_identities.c.guest_id, channel_identities.c.channel).where(
            channel_identities.c.guest_id.in_(guest_ids)
        )
    ):
        channels[int(r.guest_id)].add(str(r.channel))
    return [
        InboxEntry(
            conversation=conversation_from_row(r),
            guest_name=r.g_name or "",
            guest_phone=r.g_phone,
            guest_email=r.g_email,
            channels=sorted(channels[int(r.guest_id)]),
            last=last.get(int(r.id)),
        )
        for r in rows
    ]


class InboxOverviewRepository(Repository):
    overview = bound(overview)
