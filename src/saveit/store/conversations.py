"""Guests' channel identities and their one conversation per restaurant.

A guest has many identities ``(channel, external_id)``. WhatsApp and SMS
identities resolve through the guest's E.164 phone, so the same number on both
is one guest without any proof; an email identity resolves through the guest's
email. Instagram and web chat identities start as guests of their own until the
guest proves a link (``saveit.messaging.identity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, true, update

from saveit.domain.commands import GuestDetails
from saveit.domain.events import CONVERSATION_HANDED_OFF
from saveit.store import guests as guest_store
from saveit.store.database import ignoring_conflicts

# Re-exported while callers outside the store still call the module's functions;
# the unit of work's repository is the way in (drop these once none do).
from saveit.store.identity_links import add_link_code as add_link_code
from saveit.store.identity_links import consume_link_code as consume_link_code
from saveit.store.identity_links import count_attempt as count_attempt
from saveit.store.identity_links import guest_by_contact as guest_by_contact
from saveit.store.identity_links import live_link_code as live_link_code
from saveit.store.identity_links import merge_guests as merge_guests
from saveit.store.outbox import emit
from saveit.store.repository import Repository, bound
from saveit.store.schema import (
    channel_identities,
    channel_messages,
    conversations,
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


def identity_from_row(row: Any) -> Identity:
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


def conversation_from_row(row: Any) -> Conversation:
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


def details_of(channel: str, external_id: str, name: str | None, phone_region: str) -> GuestDetails:
    """The guest a sender on ``channel`` is: their phone on WhatsApp and SMS (E.164),
    their email on email, only their name elsewhere."""
    if channel in PHONE_CHANNELS and external_id.startswith("+"):
        return GuestDetails(
            name=name or "", phone=guest_store.normalise_phone(external_id, phone_region)
        )
    if channel == "email":
        return GuestDetails(name=name or "", email=external_id)
    return GuestDetails(name=name or "")


def _guest_for(
    conn: Connection,
    restaurant_id: int,
    channel: str,
    external_id: str,
    name: str | None,
    now: datetime,
    phone_region: str,
) -> int:
    details = details_of(channel, external_id, name, phone_region)
    guest = guest_store.find_or_create(conn, restaurant_id, details, now)
    if guest is None:  # no name and no contact: a guest known only by this identity
        guest = guest_store.create(conn, restaurant_id, details, now)
    return guest.id


# A guest's turn runs these every time: built once, a statement costs its round trip
# and not its construction (about half of the channel worker's interpreter time
# went to SQLAlchemy building statements again).
# Parameter names differ from column names: an UPDATE reserves those for its SET.
_SENDER = (
    channel_identities.c.restaurant_id == bindparam("of_restaurant"),
    channel_identities.c.channel == bindparam("on_channel"),
    channel_identities.c.external_id == bindparam("sender"),
)
_WROTE = (
    update(channel_identities)
    .where(*_SENDER)
    .values(last_inbound_at=bindparam("now", type_=channel_identities.c.last_inbound_at.type))
    .returning(*channel_identities.c)
)
_IDENTITY_OF_SENDER = select(channel_identities).where(*_SENDER)
_IDENTITY = select(channel_identities).where(channel_identities.c.id == bindparam("identity"))
_CONVERSATION_OF_GUEST = select(conversations).where(
    conversations.c.restaurant_id == bindparam("of_restaurant"),
    conversations.c.guest_id == bindparam("of_guest"),
)
_CONVERSATION = select(conversations).where(conversations.c.id == bindparam("conversation"))
SAVE_TURN = (
    update(conversations)
    .where(
        conversations.c.id == bindparam("conversation"),
        conversations.c.version == bindparam("read_version"),
    )
    .values(
        state=bindparam("new_state", type_=conversations.c.state.type),
        offered=bindparam("new_offered", type_=conversations.c.offered.type),
        language=bindparam("new_language", type_=conversations.c.language.type),
        version=bindparam("next_version", type_=conversations.c.version.type),
        last_message_at=bindparam("now", type_=conversations.c.last_message_at.type),
    )
)


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
    """The identity (and through it the guest) a message comes from, made on first contact.

    A message from a known sender (nearly all of them) costs one statement: the
    ``UPDATE … RETURNING`` that records when they last wrote (WhatsApp's 24-hour
    window) also reads the identity."""
    sender = {"of_restaurant": restaurant_id, "on_channel": channel, "sender": external_id}
    if inbound:
        row = conn.execute(_WROTE, {**sender, "now": now}).first()
    else:
        row = conn.execute(_IDENTITY_OF_SENDER, sender).first()
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
                "last_inbound_at": now if inbound else None,
            },
        )
        # Read back: another transaction may have made it first.
        row = conn.execute(_IDENTITY_OF_SENDER, sender).one()
    return identity_from_row(row)


# A returning sender's whole start of a turn, one statement (see ``returning_sender``).
_WROTE_AS_CTE = _WROTE.cte("wrote")
_TALK = (
    select(conversations)
    .join(_WROTE_AS_CTE, conversations.c.guest_id == _WROTE_AS_CTE.c.guest_id)
    .where(conversations.c.restaurant_id == bindparam("of_restaurant"))
    .cte("talk")
)
_ATTACHED = (
    update(channel_messages)
    .where(
        channel_messages.c.id == bindparam("message"),
        channel_messages.c.restaurant_id == _WROTE_AS_CTE.c.restaurant_id,
        _TALK.c.guest_id == _WROTE_AS_CTE.c.guest_id,
    )
    .values(identity_id=_WROTE_AS_CTE.c.id, conversation_id=_TALK.c.id)
    .returning(channel_messages.c.id)
    .cte("attached")
)
_RETURNING_SENDER = select(
    *(column.label(f"i_{column.name}") for column in _WROTE_AS_CTE.c),
    *(column.label(f"c_{column.name}") for column in _TALK.c),
    select(func.count()).select_from(_ATTACHED).scalar_subquery().label("attached"),
).select_from(_WROTE_AS_CTE.outerjoin(_TALK, true()))


class Prefixed:
    """A row's columns under ``prefix``, read as plain attributes."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def returning_sender(
    conn: Connection,
    restaurant_id: int,
    channel: str,
    external_id: str,
    message_id: int,
    now: datetime,
) -> tuple[Identity | None, Conversation | None]:
    """A known sender's identity (its last message now: WhatsApp's 24-hour window)
    and their conversation, with the message ``message_id`` attached to both: the
    start of nearly every turn, in one statement (PostgreSQL), so that on ``conn``
    in autocommit it costs one round trip instead of a transaction's five.

    No conversation when the sender has none yet (or the message could not be
    attached): only the identity's time was written, and ``resolve`` and
    ``open_conversation`` do the rest. No identity either when the sender is new
    (``store.first_contact`` places them), or off PostgreSQL: nothing was written."""
    if conn.dialect.name != "postgresql":
        return None, None
    row = conn.execute(
        _RETURNING_SENDER,
        {
            "of_restaurant": restaurant_id,
            "on_channel": channel,
            "sender": external_id,
            "now": now,
            "message": message_id,
        },
    ).first()
    if row is None:
        return None, None
    known = identity_from_row(Prefixed(row, "i_"))
    if row.c_id is None or not row.attached:
        return known, None
    return known, conversation_from_row(Prefixed(row, "c_"))


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
    row = conn.execute(_IDENTITY, {"identity": identity_id}).first()
    return None if row is None else identity_from_row(row)


def identities_of(conn: Connection, guest_id: int) -> list[Identity]:
    rows = conn.execute(
        select(channel_identities)
        .where(channel_identities.c.guest_id == guest_id)
        .order_by(channel_identities.c.id)
    )
    return [identity_from_row(row) for row in rows]


def latest(identities: Sequence[Identity]) -> Identity:
    """The identity the guest wrote from last (never-written ones rank by age)."""
    return max(identities, key=lambda i: (i.last_inbound_at or _NEVER, i.id))


def open_conversation(
    conn: Connection, restaurant_id: int, guest_id: int, now: datetime
) -> tuple[Conversation, bool]:
    """The guest's conversation, and whether this call started it.

    Looked up first: nearly every message belongs to a conversation that exists,
    and a speculative ``INSERT … ON CONFLICT`` costs more than the lookup."""
    mine = {"of_restaurant": restaurant_id, "of_guest": guest_id}
    found = conn.execute(_CONVERSATION_OF_GUEST, mine).first()
    if found is not None:
        return conversation_from_row(found), False
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
    return conversation_from_row(conn.execute(_CONVERSATION_OF_GUEST, mine).one()), made is not None


def conversation(conn: Connection, conversation_id: int) -> Conversation | None:
    row = conn.execute(_CONVERSATION, {"conversation": conversation_id}).first()
    return None if row is None else conversation_from_row(row)


def of_restaurant(conn: Connection, restaurant_id: int, *, limit: int = 50) -> list[Conversation]:
    rows = conn.execute(
        select(conversations)
        .where(conversations.c.restaurant_id == restaurant_id)
        .order_by(conversations.c.last_message_at.desc())
        .limit(limit)
    )
    return [conversation_from_row(row) for row in rows]


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
    saved = conn.execute(SAVE_TURN, turn_params(current, state, offered, language, now))
    return bool(saved.rowcount)


def turn_params(
    current: Conversation,
    state: dict[str, Any],
    offered: list[dict[str, str]],
    language: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The parameters of :data:`SAVE_TURN`."""
    return {
        "conversation": current.id,
        "read_version": current.version,
        "new_state": state,
        "new_offered": offered,
        "new_language": language or current.language,
        "next_version": current.version + 1,
        "now": now,
    }


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


class ConversationRepository(Repository):
    """Channel identities, conversations, and the link codes that join identities
    (:mod:`saveit.store.identity_links`)."""

    resolve = bound(resolve)
    returning_sender = bound(returning_sender)
    mark_verified = bound(mark_verified)
    identity = bound(identity)
    identities_of = bound(identities_of)
    open_conversation = bound(open_conversation)
    conversation = bound(conversation)
    of_restaurant = bound(of_restaurant)
    save_turn = bound(save_turn)
    offer = bound(offer)
    set_handoff = bound(set_handoff)
    hand_off = bound(hand_off)
    add_link_code = bound(add_link_code)
    live_link_code = bound(live_link_code)
    count_attempt = bound(count_attempt)
    consume_link_code = bound(consume_link_code)
    merge_guests = bound(merge_guests)
    guest_by_contact = bound(guest_by_contact)
    of_identity = bound(of_identity)
