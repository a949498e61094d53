"""Guests' channel identities and their one conversation per restaurant.

A guest has many identities ``(channel, external_id)``. WhatsApp and SMS
identities resolve through the guest's E.164 phone, so the same number on both
is one guest without any proof; an email identity resolves through the guest's
email. Instagram and web chat identities start as guests of their own until the
guest proves a link (``saveit.channels.identity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from saveit.domain.commands import GuestDetails
from saveit.domain.events import CONVERSATION_HANDED_OFF
from saveit.store import guests as guest_store
from saveit.store import messages
from saveit.store.database import ignoring_conflicts
from saveit.store.outbox import emit
from saveit.store.schema import (
    channel_identities,
    conversations,
    guests,
    link_codes,
    reservations,
)

PHONE_CHANNELS = frozenset({"whatsapp", "sms"})
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Identity:
    id: int
    restaurant_id: int
    channel: str
    external_id: str
    guest_id: int
    last_inbound_at: datetime | None
    verified_at: datetime | None = None  # last proof the sender controls external_id
    verified_by: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    restaurant_id: int
    guest_id: int
    language: str | None
    state: dict[str, Any]
    offered: list[dict[str, str]]
    handoff: bool
    version: int
    last_message_at: datetime


def _identity(row: Any) -> Identity:
    return Identity(
        id=int(row.id),
        restaurant_id=int(row.restaurant_id),
        channel=row.channel,
        external_id=row.external_id,
        guest_id=int(row.guest_id),
        last_inbound_at=row.last_inbound_at,
        verified_at=row.verified_at,
        verified_by=row.verified_by,
    )


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=int(row.id),
        restaurant_id=int(row.restaurant_id),
        guest_id=int(row.guest_id),
        language=row.language,
        state=dict(row.state),
        offered=list(row.offered),
        handoff=bool(row.handoff),
        version=int(row.version),
        last_message_at=row.last_message_at,
    )


def _guest_for(
    conn: Connection,
    restaurant_id: int,
    channel: str,
    external_id: str,
    name: str | None,
    now: datetime,
    phone_region: str,
) -> int:
    details = GuestDetails(name=name or "")
    if channel in PHONE_CHANNELS and external_id.startswith("+"):
        details = GuestDetails(
            name=name or "", phone=guest_store.normalise_phone(external_id, phone_region)
        )
    elif channel == "email":
        details = GuestDetails(name=name or "", email=external_id)
    guest = guest_store.find_or_create(conn, restaurant_id, details, now)
    if guest is None:  # no name and no contact: a guest known only by this identity
        guest = guest_store.create(conn, restaurant_id, details, now)
    return guest.id


def resolve(
    conn: Connection,
    restaurant_id: int,
    channel: str,
    external_id: str,
    *,
    name: str | None,
    now: datetime,
    phone_region: str = "ES",
    inbound: bool = True,
) -> Identity:
    """The identity (and through it the guest) a message comes from, made on first contact."""
    row = conn.execute(
        select(channel_identities).where(
            channel_identities.c.restaurant_id == restaurant_id,
            channel_identities.c.channel == channel,
            channel_identities.c.external_id == external_id,
        )
    ).first()
    if row is None:
        guest_id = _guest_for(conn, restaurant_id, channel, external_id, name, now, phone_region)
        conn.execute(
            ignoring_conflicts(conn.dialect.name, channel_identities),
            {
                "restaurant_id": restaurant_id,
                "channel": channel,
                "external_id": external_id,
                "guest_id": guest_id,
                "display_name": (name or "")[:200],
                "created_at": now,
            },
        )
        row = conn.execute(
            select(channel_identities).where(
                channel_identities.c.restaurant_id == restaurant_id,
                channel_identities.c.channel == channel,
                channel_identities.c.external_id == external_id,
            )
        ).one()
    if inbound:
        conn.execute(
            update(channel_identities)
            .where(channel_identities.c.id == row.id)
            .values(last_inbound_at=now)
        )
        return Identity(
            int(row.id),
            restaurant_id,
            channel,
            external_id,
            int(row.guest_id),
            now,
            row.verified_at,
            row.verified_by,
        )
    return _identity(row)


def mark_verified(conn: Connection, identity_id: int, method: str, now: datetime) -> Identity:
    """Record that this identity's sender just proved it controls the address."""
    conn.execute(
        update(channel_identities)
        .where(channel_identities.c.id == identity_id)
        .values(verified_at=now, verified_by=method[:16])
    )
    found = identity(conn, identity_id)
    assert found is not None
    return found


def identity(conn: Connection, identity_id: int) -> Identity | None:
    row = conn.execute(
        select(channel_identities).where(channel_identities.c.id == identity_id)
    ).first()
    return None if row is None else _identity(row)


def identities_of(conn: Connection, guest_id: int) -> list[Identity]:
    rows = conn.execute(
        select(channel_identities)
        .where(channel_identities.c.guest_id == guest_id)
        .order_by(channel_identities.c.id)
    )
    return [_identity(row) for row in rows]


def latest(identities: Sequence[Identity]) -> Identity:
    """The identity the guest wrote from last (never-written ones rank by age)."""
    return max(identities, key=lambda i: (i.last_inbound_at or _NEVER, i.id))


def open_conversation(
    conn: Connection, restaurant_id: int, guest_id: int, now: datetime
) -> tuple[Conversation, bool]:
    """The guest's conversation, and whether this call started it."""
    made = conn.execute(
        ignoring_conflicts(conn.dialect.name, conversations, conversations.c.id),
        {
            "restaurant_id": restaurant_id,
            "guest_id": guest_id,
            "state": {},
            "offered": [],
            "handoff": False,
            "version": 1,
            "last_message_at": now,
            "created_at": now,
        },
    ).first()
    row = conn.execute(
        select(conversations).where(
            conversations.c.restaurant_id == restaurant_id, conversations.c.guest_id == guest_id
        )
    ).one()
    return _conversation(row), made is not None


def conversation(conn: Connection, conversation_id: int) -> Conversation | None:
    row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
    return None if row is None else _conversation(row)


def of_restaurant(conn: Connection, restaurant_id: int, *, limit: int = 50) -> list[Conversation]:
    rows = conn.execute(
        select(conversations)
        .where(conversations.c.restaurant_id == restaurant_id)
        .order_by(conversations.c.last_message_at.desc())
        .limit(limit)
    )
    return [_conversation(row) for row in rows]


def save_turn(
    conn: Connection,
    current: Conversation,
    *,
    state: dict[str, Any],
    offered: list[dict[str, str]],
    language: str | None,
    now: datetime,
) -> bool:
    """Write the dialogue's new state if nobody else did since it was read."""
    return bool(
        conn.execute(
            update(conversations)
            .where(conversations.c.id == current.id, conversations.c.version == current.version)
            .values(
                state=state,
                offered=offered,
                language=language or current.language,
                version=current.version + 1,
                last_message_at=now,
            )
        ).rowcount
    )


def offer(conn: Connection, conversation_id: int, offered: list[dict[str, str]]) -> None:
    """Record choices sent outside a turn (a reminder's buttons), so that a "2"
    typed on SMS picks the second; the version moves so a racing turn re-reads."""
    conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(offered=offered, version=conversations.c.version + 1)
    )


def set_handoff(conn: Connection, conversation_id: int, active: bool) -> bool:
    return bool(
        conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(handoff=active, version=conversations.c.version + 1)
        ).rowcount
    )


def hand_off(
    conn: Connection,
    conversation: Conversation,
    *,
    active: bool,
    by: str,
    now: datetime,
) -> None:
    """Staff take the conversation over (or hand it back), announced on the live feed."""
    set_handoff(conn, conversation.id, active)
    emit(
        conn,
        restaurant_id=conversation.restaurant_id,
        type_=CONVERSATION_HANDED_OFF,
        payload={"conversation_id": conversation.id, "active": active, "by": by},
        at=now,
    )


# --- linking identities with proof -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkCode:
    id: int
    identity_id: int
    guest_id: int | None
    contact: str
    code_hash: str
    attempts: int
    expires_at: datetime


def add_link_code(
    conn: Connection,
    *,
    restaurant_id: int,
    identity_id: int,
    guest_id: int | None,
    contact: str,
    code_hash: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    """A new code replaces any earlier one of the same identity."""
    conn.execute(
        update(link_codes)
        .where(link_codes.c.identity_id == identity_id, link_codes.c.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    conn.execute(
        insert(link_codes).values(
            restaurant_id=restaurant_id,
            identity_id=identity_id,
            guest_id=guest_id,
            contact=contact,
            code_hash=code_hash,
            attempts=0,
            expires_at=expires_at,
            created_at=now,
        )
    )


def live_link_code(conn: Connection, identity_id: int, now: datetime) -> LinkCode | None:
    row = conn.execute(
        select(link_codes)
        .where(
            link_codes.c.identity_id == identity_id,
            link_codes.c.consumed_at.is_(None),
            link_codes.c.expires_at > now,
        )
        .order_by(link_codes.c.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if row is None:
        return None
    return LinkCode(
        int(row.id),
        int(row.identity_id),
        row.guest_id,
        row.contact,
        row.code_hash,
        row.attempts,
        row.expires_at,
    )


def count_attempt(conn: Connection, code_id: int, *, exhausted: bool, now: datetime) -> None:
    values: dict[str, Any] = {"attempts": link_codes.c.attempts + 1}
    if exhausted:
        values["consumed_at"] = now
    conn.execute(update(link_codes).where(link_codes.c.id == code_id).values(**values))


def consume_link_code(conn: Connection, code_id: int, now: datetime) -> None:
    conn.execute(update(link_codes).where(link_codes.c.id == code_id).values(consumed_at=now))


def merge_guests(conn: Connection, *, source: int, target: int, now: datetime) -> None:
    """Fold guest ``source`` into ``target`` in the caller's transaction: their
    reservations, identities and conversation move, counts add up, blank
    details are filled, and ``source`` is deleted."""
    if source == target:
        return
    src = conn.execute(select(guests).where(guests.c.id == source)).one()
    dst = conn.execute(select(guests).where(guests.c.id == target)).one()
    conn.execute(
        update(reservations).where(reservations.c.guest_id == source).values(guest_id=target)
    )
    conn.execute(
        update(channel_identities)
        .where(channel_identities.c.guest_id == source)
        .values(guest_id=target)
    )
    conn.execute(update(link_codes).where(link_codes.c.guest_id == source).values(guest_id=target))
    src_conv = conn.execute(select(conversations).where(conversations.c.guest_id == source)).first()
    if src_conv is not None:
        dst_conv = conn.execute(
            select(conversations).where(
                conversations.c.guest_id == target,
                conversations.c.restaurant_id == src_conv.restaurant_id,
            )
        ).first()
        if dst_conv is None:
            conn.execute(
                update(conversations)
                .where(conversations.c.id == src_conv.id)
                .values(guest_id=target)
            )
        else:
            messages.move_conversation(conn, src_conv.id, dst_conv.id)
            conn.execute(
                update(conversations)
                .where(conversations.c.id == dst_conv.id)
                .values(
                    last_message_at=func.coalesce(dst_conv.last_message_at, now),
                    handoff=bool(dst_conv.handoff or src_conv.handoff),
                    version=conversations.c.version + 1,
                )
            )
            conn.execute(delete(conversations).where(conversations.c.id == src_conv.id))
    conn.execute(delete(guests).where(guests.c.id == source))
    fill: dict[str, Any] = {
        "visit_count": dst.visit_count + src.visit_count,
        "no_show_count": dst.no_show_count + src.no_show_count,
        "updated_at": now,
    }
    for column in ("name", "phone", "email", "language"):
        if not getattr(dst, column) and getattr(src, column):
            fill[column] = getattr(src, column)
    if not dst.notes and src.notes:
        fill["notes"] = src.notes
    conn.execute(update(guests).where(guests.c.id == target).values(**fill))


def guest_by_contact(
    conn: Connection, restaurant_id: int, *, phone: str | None, email: str | None
) -> int | None:
    column = guests.c.phone if phone else guests.c.email
    value = phone or email
    if value is None:
        return None
    row = conn.execute(
        select(guests.c.id).where(guests.c.restaurant_id == restaurant_id, column == value)
    ).first()
    return None if row is None else int(row.id)


def of_identity(conn: Connection, restaurant_id: int, channel: str, external_id: str) -> int | None:
    """The id of the conversation of the guest behind a channel identity."""
    found = conn.execute(
        select(conversations.c.id)
        .join(
            channel_identities,
            (channel_identities.c.guest_id == conversations.c.guest_id)
            & (channel_identities.c.restaurant_id == conversations.c.restaurant_id),
        )
        .where(
            channel_identities.c.restaurant_id == restaurant_id,
            channel_identities.c.channel == channel,
            channel_identities.c.external_id == external_id,
        )
    ).scalar()
    return None if found is None else int(found)


class ConversationRepository:
    """Channel identities, conversations, link codes.

    Bound to one unit of work's connection; see :mod:`saveit.store.unit_of_work`.
    """

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def resolve(
        self,
        restaurant_id: int,
        channel: str,
        external_id: str,
        *,
        name: str | None,
        now: datetime,
        phone_region: str = "ES",
        inbound: bool = True,
    ) -> Identity:
        return resolve(
            self.connection,
            restaurant_id,
            channel,
            external_id,
            name=name,
            now=now,
            phone_region=phone_region,
            inbound=inbound,
        )

    def mark_verified(self, identity_id: int, method: str, now: datetime) -> Identity:
        return mark_verified(self.connection, identity_id, method, now)

    def identity(self, identity_id: int) -> Identity | None:
        return identity(self.connection, identity_id)

    def identities_of(self, guest_id: int) -> list[Identity]:
        return identities_of(self.connection, guest_id)

    def open_conversation(
        self,
        restaurant_id: int,
        guest_id: int,
        now: datetime,
    ) -> tuple[Conversation, bool]:
        return open_conversation(self.connection, restaurant_id, guest_id, now)

    def conversation(self, conversation_id: int) -> Conversation | None:
        return conversation(self.connection, conversation_id)

    def of_restaurant(self, restaurant_id: int, *, limit: int = 50) -> list[Conversation]:
        return of_restaurant(self.connection, restaurant_id, limit=limit)

    def save_turn(
        self,
        current: Conversation,
        *,
        state: dict[str, Any],
        offered: list[dict[str, str]],
        language: str | None,
        now: datetime,
    ) -> bool:
        return save_turn(
            self.connection,
            current,
            state=state,
            offered=offered,
            language=language,
            now=now,
        )

    def offer(self, conversation_id: int, offered: list[dict[str, str]]) -> None:
        offer(self.connection, conversation_id, offered)

    def set_handoff(self, conversation_id: int, active: bool) -> bool:
        return set_handoff(self.connection, conversation_id, active)

    def hand_off(
        self,
        conversation: Conversation,
        *,
        active: bool,
        by: str,
        now: datetime,
    ) -> None:
        hand_off(self.connection, conversation, active=active, by=by, now=now)

    def add_link_code(
        self,
        *,
        restaurant_id: int,
        identity_id: int,
        guest_id: int | None,
        contact: str,
        code_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> None:
        add_link_code(
            self.connection,
            restaurant_id=restaurant_id,
            identity_id=identity_id,
            guest_id=guest_id,
            contact=contact,
            code_hash=code_hash,
            expires_at=expires_at,
            now=now,
        )

    def live_link_code(self, identity_id: int, now: datetime) -> LinkCode | None:
        return live_link_code(self.connection, identity_id, now)

    def count_attempt(self, code_id: int, *, exhausted: bool, now: datetime) -> None:
        count_attempt(self.connection, code_id, exhausted=exhausted, now=now)

    def consume_link_code(self, code_id: int, now: datetime) -> None:
        consume_link_code(self.connection, code_id, now)

    def merge_guests(self, *, source: int, target: int, now: datetime) -> None:
        merge_guests(self.connection, source=source, target=target, now=now)

    def guest_by_contact(
        self,
        restaurant_id: int,
        *,
        phone: str | None,
        email: str | None,
    ) -> int | None:
        return guest_by_contact(self.connection, restaurant_id, phone=phone, email=email)

    def of_identity(self, restaurant_id: int, channel: str, external_id: str) -> int | None:
        return of_identity(self.connection, restaurant_id, channel, external_id)
