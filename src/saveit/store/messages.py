"""Every message in and out, with its delivery state, as a small work queue.

Inbound rows are written before the provider is acknowledged (deduplicated by
the unique ``(channel, provider_message_id)`` key, so a webhook retried five
times inserts once) and answered later by whichever process claims them.
Outbound rows are the delivery queue: claimed with a lease, retried with
backoff, and finished as ``sent`` or ``failed``. A worker that dies mid-claim
leaves a lease that lapses, and another worker takes the row over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    insert,
    or_,
    select,
    tuple_,
    update,
)

from saveit.domain.messages import (
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
)
from saveit.store.absent import insert_absent
from saveit.store.carrier import META_KEY, with_carrier
from saveit.store.database import ignoring_conflicts

# Re-exported while callers outside the store still call the module's functions;
# the unit of work's repository is the way in (drop these once none do).
from saveit.store.message_delivery import apply_status as apply_status
from saveit.store.message_delivery import mark_failed as mark_failed
from saveit.store.message_delivery import mark_retry as mark_retry
from saveit.store.message_delivery import mark_sending as mark_sending
from saveit.store.message_delivery import mark_sent as mark_sent
from saveit.store.message_delivery import prune_early_statuses as prune_early_statuses
from saveit.store.message_delivery import release as release
from saveit.store.message_delivery import sent_at_once as sent_at_once

# The row type and the notices are part of this module's face (explicit re-exports).
from saveit.store.message_rows import INBOX_NOTICE as INBOX_NOTICE
from saveit.store.message_rows import OUTBOX_NOTICE as OUTBOX_NOTICE
from saveit.store.message_rows import StoredMessage as StoredMessage
from saveit.store.message_rows import new_public_id, notify_statement, stored, wake
from saveit.store.partitions import is_partitioned
from saveit.store.repository import Repository, bound
from saveit.store.schema import channel_messages as m


def inbound_body(message: InboundMessage) -> dict[str, Any]:
    return {
        "choice": None
        if message.choice is None
        else {"id": message.choice.id, "title": message.choice.title},
        "sender_name": message.sender_name,
        "reply_to": message.reply_to,
        "references": list(message.references),
        "subject": message.subject,
        "sent_at": message.sent_at.isoformat(),
        "proof": message.proof,
        **({"client_ip": message.client_ip} if message.client_ip else {}),
    }


def insert_inbound_many(
    conn: Connection,
    messages: Sequence[tuple[int, InboundMessage]],
    now: datetime,
    *,
    metas: Sequence[dict[str, str] | None] | None = None,
) -> list[int | None]:
    """Insert ``(restaurant id, message)`` pairs in one statement; for each, in order,
    the new row's id, or None when its provider id was stored before (or earlier in
    the same list: two deliveries of one webhook can share a group commit)."""
    if not messages:
        return []
    rows = [
        {
            "public_id": new_public_id(),
            "restaurant_id": restaurant_id,
            "direction": "in",
            "channel": message.channel,
            "provider_message_id": message.provider_message_id,
            "address": message.sender,
            "status": DeliveryStatus.RECEIVED.value,
            "text": message.text,
            "body": inbound_body(message)
            if meta is None
            else {**inbound_body(message), META_KEY: meta},
            "raw": message.raw,
            "author": "guest",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for (restaurant_id, message), meta in zip(
            messages, metas or [None] * len(messages), strict=True
        )
    ]
    if is_partitioned(conn, "channel_messages"):  # the dedup key is no unique index there
        done = insert_absent(
            conn,
            m,
            ("channel", "provider_message_id"),
            rows,
            m.c.id,
            m.c.channel,
            m.c.provider_message_id,
            then=notify_statement(INBOX_NOTICE),
        )
    else:
        statement = ignoring_conflicts(
            conn.dialect.name, m, m.c.id, m.c.channel, m.c.provider_message_id
        )
        done = list(conn.execute(statement, rows))
        if done:
            wake(conn, INBOX_NOTICE)
    inserted = {(row.channel, row.provider_message_id): int(row.id) for row in done}
    # ``pop``: a key's first occurrence gets the row, any later one is a duplicate.
    return [inserted.pop((row["channel"], row["provider_message_id"]), None) for row in rows]


def claim_inbound(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int
) -> list[StoredMessage]:
    """Unanswered inbound messages, oldest first, leased to this worker.

    A guest's message waits while an earlier one of theirs is leased to another
    worker, so one guest's messages are answered in order."""
    return _claim(conn, "in", now=now, lease=lease, limit=limit)


def claim_outbound(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int
) -> list[StoredMessage]:
    """Due outbound messages, oldest first, leased to this worker."""
    return _claim(conn, "out", now=now, lease=lease, limit=limit)


def _claim(
    conn: Connection, direction: str, *, now: datetime, lease: timedelta, limit: int
) -> list[StoredMessage]:
    statement = _claim_statement(conn.dialect.name, direction)
    rows = conn.execute(statement, {"now": now, "until": now + lease, "limit": limit})
    return sorted((stored(row) for row in rows), key=lambda s: s.id)


@cache
def _claim_statement(dialect: str, direction: str) -> Any:
    """The lease statement, built once per dialect and direction with its values as
    parameters. The channel workers run it on every wake-up, most of them finding
    nothing: building it (and its cache key, which SQLAlchemy keeps on the statement
    object) once leaves only the round trip."""
    now = bindparam("now", type_=m.c.claimed_until.type)
    if direction == "in":
        # Only the few rows leased right now are compared against, so the check costs
        # the same with five waiting messages or five thousand (a correlated "is
        # there an earlier busy one" per row went quadratic on a backlog).
        busy = select(m.c.restaurant_id, m.c.channel, m.c.address).where(
            m.c.direction == "in",
            m.c.processed_at.is_(None),
            m.c.claimed_until >= now,
        )
        condition = and_(
            m.c.direction == "in",
            tuple_(m.c.restaurant_id, m.c.channel, m.c.address).not_in(busy),
        )
    else:
        condition = and_(
            m.c.direction == "out",
            m.c.status == DeliveryStatus.QUEUED.value,
            m.c.next_attempt_at <= now,
        )
    candidates = (
        select(m.c.id)
        .where(
            m.c.processed_at.is_(None),
            condition,
            or_(m.c.claimed_until.is_(None), m.c.claimed_until < now),
        )
        .order_by(m.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(m)
        .where(m.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_until=bindparam("until", type_=m.c.claimed_until.type))
        .returning(*m.c)
    )


# Every turn runs these: built once, they cost their round trip and not their
# construction. Parameter names differ from column names (an UPDATE reserves those).
_ATTACH = (
    update(m)
    .where(m.c.id == bindparam("message"))
    .values(
        identity_id=bindparam("identity", type_=m.c.identity_id.type),
        conversation_id=bindparam("conversation", type_=m.c.conversation_id.type),
    )
)
FINISH_INBOUND = (
    update(m)
    .where(m.c.id == bindparam("message"), m.c.processed_at.is_(None))
    .values(
        processed_at=bindparam("now", type_=m.c.processed_at.type),
        updated_at=bindparam("now", type_=m.c.updated_at.type),
        claimed_until=None,
        error_code=bindparam("note", type_=m.c.error_code.type),
    )
)
_ENQUEUE = insert(m).returning(*m.c)
_BY_ID = select(m).where(m.c.id == bindparam("message"))


def attach(conn: Connection, message_id: int, *, identity_id: int, conversation_id: int) -> None:
    conn.execute(
        _ATTACH,
        {"message": message_id, "identity": identity_id, "conversation": conversation_id},
    )


def finish_inbound(conn: Connection, message_id: int, now: datetime, note: str | None) -> bool:
    """Mark answered; False when another worker got there first (lease lapsed)."""
    done = conn.execute(FINISH_INBOUND, {"message": message_id, "now": now, "note": note})
    return bool(done.rowcount)


def enqueue(
    conn: Connection,
    *,
    restaurant_id: int,
    channel: str,
    address: str,
    identity_id: int | None,
    conversation_id: int | None,
    message: OutboundMessage,
    author: str,
    now: datetime,
    claimed_until: datetime | None = None,
) -> StoredMessage:
    """Queue an outbound message for the delivery loops (:func:`queue_row`)."""
    return queue_row(
        conn,
        outbound_row(
            restaurant_id=restaurant_id,
            channel=channel,
            address=address,
            identity_id=identity_id,
            conversation_id=conversation_id,
            message=message,
            author=author,
            now=now,
            claimed_until=claimed_until,
        ),
    )


def queue_row(conn: Connection, values: dict[str, Any]) -> StoredMessage:
    """Queue the outbound message :func:`outbound_row` made. Leased already (its
    ``claimed_until``), it is the caller's to send itself (the bot's reply, handed to
    this process's delivery in memory): nobody else is woken for it, and if this
    process dies it is sent by whoever claims it when the lease lapses."""
    row = conn.execute(_ENQUEUE, values).one()
    if values.get("claimed_until") is None:
        wake(conn, OUTBOX_NOTICE)
    return stored(row)


def outbound_row(
    *,
    restaurant_id: int,
    channel: str,
    address: str,
    identity_id: int | None,
    conversation_id: int | None,
    message: OutboundMessage,
    author: str,
    now: datetime,
    claimed_until: datetime | None = None,
) -> dict[str, Any]:
    """A queued outbound message's row, leased until ``claimed_until`` if given."""
    row = {
        "public_id": new_public_id(),
        "restaurant_id": restaurant_id,
        "direction": "out",
        "channel": channel,
        "address": address,
        "identity_id": identity_id,
        "conversation_id": conversation_id,
        "status": DeliveryStatus.QUEUED.value,
        "text": message.numbered_text(),
        "body": with_carrier(message.to_json()),
        "raw": "",
        "author": author,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
    if claimed_until is not None:
        row["claimed_until"] = claimed_until
    return row


def by_id(conn: Connection, message_id: int) -> StoredMessage | None:
    row = conn.execute(_BY_ID, {"message": message_id}).first()
    return None if row is None else stored(row)


def history(
    conn: Connection, conversation_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[StoredMessage]:
    """The conversation's latest messages, oldest first."""
    query = select(m).where(m.c.conversation_id == conversation_id)
    if before_id is not None:
        query = query.where(m.c.id < before_id)
    rows = conn.execute(query.order_by(m.c.id.desc()).limit(limit)).all()
    return [stored(row) for row in reversed(rows)]


def last_inbound(conn: Connection, conversation_id: int, channel: str) -> StoredMessage | None:
    row = conn.execute(
        select(m)
        .where(
            m.c.conversation_id == conversation_id,
            m.c.direction == "in",
            m.c.channel == channel,
        )
        .order_by(m.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else stored(row)


def email_thread(
    conn: Connection, conversation_id: int, *, before: int, limit: int = 10
) -> list[str]:
    """Message-IDs of the conversation's latest emails either way, oldest first,
    older than message ``before``: the thread a new email from us continues."""
    rows = conn.execute(
        select(m.c.provider_message_id)
        .where(
            m.c.conversation_id == conversation_id,
            m.c.channel == "email",
            m.c.provider_message_id.is_not(None),
            m.c.id < before,
        )
        .order_by(m.c.id.desc())
        .limit(limit)
    ).scalars()
    return [str(r) for r in rows][::-1]


def move_conversation(conn: Connection, source: int, target: int) -> None:
    conn.execute(update(m).where(m.c.conversation_id == source).values(conversation_id=target))


# --- the web chat's reads ---------------------------------------------------------------


def id_of(conn: Connection, public_id: str) -> int | None:
    """The row id of the message known to clients as ``public_id``."""
    found = conn.execute(select(m.c.id).where(m.c.public_id == public_id)).scalar()
    return None if found is None else int(found)


def unanswered(conn: Connection, restaurant_id: int, channel: str, address: str) -> list[int]:
    """Row ids of the address's inbound messages not processed yet (small, indexed)."""
    return [
        int(row_id)
        for row_id in conn.execute(
            select(m.c.id).where(
                m.c.processed_at.is_(None),
                m.c.direction == "in",
                m.c.restaurant_id == restaurant_id,
                m.c.channel == channel,
                m.c.address == address,
            )
        ).scalars()
    ]


def replies_after(
    conn: Connection, row_id: int, restaurant_id: int, channel: str, address: str
) -> list[str]:
    """Public ids of the replies to the address queued after row ``row_id`` (a
    primary-key range, however long the history)."""
    return [
        str(public_id)
        for public_id in conn.execute(
            select(m.c.public_id).where(
                m.c.id > row_id,
                m.c.direction == "out",
                m.c.restaurant_id == restaurant_id,
                m.c.channel == channel,
                m.c.address == address,
            )
        ).scalars()
    ]


class MessageRepository(Repository):
    """Channel messages in and out, and their delivery statuses."""

    insert_inbound_many = bound(insert_inbound_many)
    apply_status = bound(apply_status)
    prune_early_statuses = bound(prune_early_statuses)
    claim_inbound = bound(claim_inbound)
    claim_outbound = bound(claim_outbound)
    attach = bound(attach)
    finish_inbound = bound(finish_inbound)
    enqueue = bound(enqueue)
    queue_row = bound(queue_row)
    mark_sending = bound(mark_sending)
    release = bound(release)
    mark_sent = bound(mark_sent)
    sent_at_once = bound(sent_at_once)
    mark_retry = bound(mark_retry)
    mark_failed = bound(mark_failed)
    by_id = bound(by_id)
    history = bound(history)
    last_inbound = bound(last_inbound)
    email_thread = bound(email_thread)
    move_conversation = bound(move_conversation)
    id_of = bound(id_of)
    unanswered = bound(unanswered)
    replies_after = bound(replies_after)
