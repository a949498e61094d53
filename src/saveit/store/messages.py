"""Every message in and out, with its delivery state, as a small work queue.

Inbound rows are written before the provider is acknowledged (deduplicated by
the unique ``(channel, provider_message_id)`` key, so a webhook retried five
times inserts once) and answered later by whichever process claims them.
Outbound rows are the delivery queue: claimed with a lease, retried with
backoff, and finished as ``sent`` or ``failed``. A worker that dies mid-claim
leaves a lease that lapses, and another worker takes the row over.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from saveit.domain.messages import (
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    StatusUpdate,
    rank,
)
from saveit.observe.context import META_KEY, with_carrier
from saveit.store.database import ignoring_conflicts
from saveit.store.partitions import insert_absent, is_partitioned
from saveit.store.schema import channel_messages as m
from saveit.store.schema import early_statuses as early

_RANK_OF_COLUMN = case(
    {status.value: rank(status) for status in DeliveryStatus}, value=m.c.status, else_=0
)


# PostgreSQL NOTIFY channels that wake the channel workers of every process
# (saveit.channels.workers) when work is committed: delivered at commit, once
# per transaction however many rows it queued.
INBOX_NOTICE = "saveit_inbox"
OUTBOX_NOTICE = "saveit_outbox"


def _wake(conn: Connection, notice: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"NOTIFY {notice}")


def new_public_id() -> str:
    return secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    public_id: str
    restaurant_id: int
    direction: str
    channel: str
    provider_message_id: str | None
    address: str
    identity_id: int | None
    conversation_id: int | None
    status: str
    text: str
    body: dict[str, Any]
    author: str
    attempts: int
    error_code: str | None
    error_detail: str | None
    created_at: datetime
    send_started_at: datetime | None = None  # a send began and its outcome was never recorded

    @property
    def outbound(self) -> OutboundMessage:
        return OutboundMessage.from_json(self.body)


def _stored(row: Any) -> StoredMessage:
    return StoredMessage(
        id=int(row.id),
        public_id=row.public_id,
        restaurant_id=int(row.restaurant_id),
        direction=row.direction,
        channel=row.channel,
        provider_message_id=row.provider_message_id,
        address=row.address,
        identity_id=row.identity_id,
        conversation_id=row.conversation_id,
        status=row.status,
        text=row.text,
        body=dict(row.body),
        author=row.author,
        attempts=row.attempts,
        error_code=row.error_code,
        error_detail=row.error_detail,
        created_at=row.created_at,
        send_started_at=row.send_started_at,
    )


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
        )
    else:
        statement = ignoring_conflicts(
            conn.dialect.name, m, m.c.id, m.c.channel, m.c.provider_message_id
        )
        done = list(conn.execute(statement, rows))
    inserted = {(row.channel, row.provider_message_id): int(row.id) for row in done}
    if inserted:
        _wake(conn, INBOX_NOTICE)
    # ``pop``: a key's first occurrence gets the row, any later one is a duplicate.
    return [inserted.pop((row["channel"], row["provider_message_id"]), None) for row in rows]


def apply_status(conn: Connection, update_: StatusUpdate, now: datetime) -> StoredMessage | None:
    """Move one outbound message forward; a late or repeated status changes nothing.

    Returns the message when it moved (the caller announces failures)."""
    new = update_.status
    statement = (
        update(m)
        .where(
            m.c.channel == update_.channel,
            m.c.provider_message_id == update_.provider_message_id,
            m.c.direction == "out",
            m.c.status != DeliveryStatus.FAILED.value,
            rank(new) > _RANK_OF_COLUMN,
        )
        .values(
            status=new.value,
            updated_at=now,
            error_code=update_.error_code if new is DeliveryStatus.FAILED else m.c.error_code,
            error_detail=update_.error_detail if new is DeliveryStatus.FAILED else m.c.error_detail,
        )
        .returning(*m.c)
    )
    row = conn.execute(statement).first()
    if row is not None:
        return _stored(row)
    known = conn.execute(
        select(m.c.id).where(
            m.c.channel == update_.channel,
            m.c.provider_message_id == update_.provider_message_id,
        )
    ).first()
    if known is None:  # ahead of our own record of the send: keep it for then
        conn.execute(
            ignoring_conflicts(conn.dialect.name, early),
            {
                "channel": update_.channel,
                "provider_message_id": update_.provider_message_id,
                "status": new.value,
                "error_code": update_.error_code,
                "error_detail": (update_.error_detail or "")[:2000] or None,
                "received_at": now,
            },
        )
    return None


def _apply_early(
    conn: Connection, channel: str, provider_message_id: str, now: datetime
) -> StoredMessage | None:
    """Statuses that arrived before ``provider_message_id`` was recorded, applied
    in order of rank; returns the message if they moved it."""
    rows = conn.execute(
        delete(early)
        .where(early.c.channel == channel, early.c.provider_message_id == provider_message_id)
        .returning(early.c.status, early.c.error_code, early.c.error_detail, early.c.received_at)
    ).all()
    moved = None
    for row in sorted(rows, key=lambda r: rank(DeliveryStatus(r.status))):
        update_ = StatusUpdate(
            channel=channel,  # type: ignore[arg-type]
            provider_message_id=provider_message_id,
            status=DeliveryStatus(row.status),
            at=row.received_at,
            error_code=row.error_code,
            error_detail=row.error_detail,
        )
        moved = apply_status(conn, update_, now) or moved
    return moved


def prune_early_statuses(conn: Connection, before: datetime) -> int:
    """Forget early statuses no send ever claimed (a message lost in a crash, or
    not ours): providers report within minutes, not days."""
    return conn.execute(delete(early).where(early.c.received_at < before)).rowcount


def claim_inbound(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int
) -> list[StoredMessage]:
    """Unanswered inbound messages, oldest first, leased to this worker.

    A guest's message waits while an earlier one of theirs is leased to another
    worker, so one guest's messages are answered in order."""
    # Only the few rows leased right now are compared against, so the check costs
    # the same with five waiting messages or five thousand (a correlated "is there
    # an earlier busy one" per row went quadratic on a backlog with stale stats).
    busy = select(m.c.restaurant_id, m.c.channel, m.c.address).where(
        m.c.direction == "in",
        m.c.processed_at.is_(None),
        m.c.claimed_until >= now,
    )
    return _claim(
        conn,
        and_(
            m.c.direction == "in",
            tuple_(m.c.restaurant_id, m.c.channel, m.c.address).not_in(busy),
        ),
        now=now,
        lease=lease,
        limit=limit,
    )


def claim_outbound(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int
) -> list[StoredMessage]:
    """Due outbound messages, oldest first, leased to this worker."""
    return _claim(
        conn,
        and_(
            m.c.direction == "out",
            m.c.status == DeliveryStatus.QUEUED.value,
            m.c.next_attempt_at <= now,
        ),
        now=now,
        lease=lease,
        limit=limit,
    )


def _claim(
    conn: Connection, condition: Any, *, now: datetime, lease: timedelta, limit: int
) -> list[StoredMessage]:
    candidates = (
        select(m.c.id)
        .where(
            m.c.processed_at.is_(None),
            condition,
            or_(m.c.claimed_until.is_(None), m.c.claimed_until < now),
        )
        .order_by(m.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    rows = conn.execute(
        update(m)
        .where(m.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_until=now + lease)
        .returning(*m.c)
    )
    return sorted((_stored(row) for row in rows), key=lambda s: s.id)


def attach(conn: Connection, message_id: int, *, identity_id: int, conversation_id: int) -> None:
    conn.execute(
        update(m)
        .where(m.c.id == message_id)
        .values(identity_id=identity_id, conversation_id=conversation_id)
    )


def finish_inbound(conn: Connection, message_id: int, now: datetime, note: str | None) -> bool:
    """Mark answered; False when another worker got there first (lease lapsed)."""
    return bool(
        conn.execute(
            update(m)
            .where(m.c.id == message_id, m.c.processed_at.is_(None))
            .values(processed_at=now, updated_at=now, claimed_until=None, error_code=note)
        ).rowcount
    )


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
) -> StoredMessage:
    row = conn.execute(
        insert(m)
        .values(
            public_id=new_public_id(),
            restaurant_id=restaurant_id,
            direction="out",
            channel=channel,
            address=address,
            identity_id=identity_id,
            conversation_id=conversation_id,
            status=DeliveryStatus.QUEUED.value,
            text=message.numbered_text(),
            body=with_carrier(message.to_json()),
            raw="",
            author=author,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(*m.c)
    ).one()
    _wake(conn, OUTBOX_NOTICE)
    return _stored(row)


def mark_sending(conn: Connection, message_id: int, now: datetime) -> None:
    conn.execute(update(m).where(m.c.id == message_id).values(send_started_at=now))


def mark_sent(
    conn: Connection, message_id: int, provider_message_id: str, now: datetime
) -> StoredMessage | None:
    """Record the send; returns the message if statuses the provider reported
    before this commit moved it on (a ``failed`` among them is the caller's to
    announce)."""
    channel = conn.execute(
        update(m)
        .where(m.c.id == message_id)
        .values(
            provider_message_id=provider_message_id,
            status=case(
                (m.c.status == DeliveryStatus.QUEUED.value, literal(DeliveryStatus.SENT.value)),
                else_=m.c.status,
            ),
            attempts=m.c.attempts + 1,
            processed_at=now,
            updated_at=now,
            claimed_until=None,
        )
        .returning(m.c.channel)
    ).scalar_one()
    return _apply_early(conn, channel, provider_message_id, now)


def mark_retry(
    conn: Connection, message_id: int, *, at: datetime, error: str, now: datetime
) -> None:
    conn.execute(
        update(m)
        .where(m.c.id == message_id)
        .values(
            attempts=m.c.attempts + 1,
            next_attempt_at=at,
            claimed_until=None,
            send_started_at=None,  # the provider said no: nothing went out
            error_detail=error[:2000],
            updated_at=now,
        )
    )


def mark_failed(
    conn: Connection, message_id: int, *, code: str | None, detail: str, now: datetime
) -> None:
    conn.execute(
        update(m)
        .where(m.c.id == message_id)
        .values(
            status=DeliveryStatus.FAILED.value,
            attempts=m.c.attempts + 1,
            error_code=code,
            error_detail=detail[:2000],
            processed_at=now,
            updated_at=now,
            claimed_until=None,
        )
    )


def by_id(conn: Connection, message_id: int) -> StoredMessage | None:
    row = conn.execute(select(m).where(m.c.id == message_id)).first()
    return None if row is None else _stored(row)


def history(
    conn: Connection, conversation_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[StoredMessage]:
    """The conversation's latest messages, oldest first."""
    query = select(m).where(m.c.conversation_id == conversation_id)
    if before_id is not None:
        query = query.where(m.c.id < before_id)
    rows = conn.execute(query.order_by(m.c.id.desc()).limit(limit)).all()
    return [_stored(row) for row in reversed(rows)]


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
    return None if row is None else _stored(row)


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


class MessageRepository:
    """Channel messages in and out, and their delivery statuses.

    Bound to one unit of work's connection; see :mod:`saveit.store.unit_of_work`.
    """

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def insert_inbound_many(
        self,
        messages: Sequence[tuple[int, InboundMessage]],
        now: datetime,
        *,
        metas: Sequence[dict[str, str] | None] | None = None,
    ) -> list[int | None]:
        return insert_inbound_many(self.connection, messages, now, metas=metas)

    def apply_status(self, update_: StatusUpdate, now: datetime) -> StoredMessage | None:
        return apply_status(self.connection, update_, now)

    def prune_early_statuses(self, before: datetime) -> int:
        return prune_early_statuses(self.connection, before)

    def claim_inbound(self, *, now: datetime, lease: timedelta, limit: int) -> list[StoredMessage]:
        return claim_inbound(self.connection, now=now, lease=lease, limit=limit)

    def claim_outbound(
        self,
        *,
        now: datetime,
        lease: timedelta,
        limit: int,
    ) -> list[StoredMessage]:
        return claim_outbound(self.connection, now=now, lease=lease, limit=limit)

    def attach(self, message_id: int, *, identity_id: int, conversation_id: int) -> None:
        attach(
            self.connection,
            message_id,
            identity_id=identity_id,
            conversation_id=conversation_id,
        )

    def finish_inbound(self, message_id: int, now: datetime, note: str | None) -> bool:
        return finish_inbound(self.connection, message_id, now, note)

    def enqueue(
        self,
        *,
        restaurant_id: int,
        channel: str,
        address: str,
        identity_id: int | None,
        conversation_id: int | None,
        message: OutboundMessage,
        author: str,
        now: datetime,
    ) -> StoredMessage:
        return enqueue(
            self.connection,
            restaurant_id=restaurant_id,
            channel=channel,
            address=address,
            identity_id=identity_id,
            conversation_id=conversation_id,
            message=message,
            author=author,
            now=now,
        )

    def mark_sending(self, message_id: int, now: datetime) -> None:
        mark_sending(self.connection, message_id, now)

    def mark_sent(
        self,
        message_id: int,
        provider_message_id: str,
        now: datetime,
    ) -> StoredMessage | None:
        return mark_sent(self.connection, message_id, provider_message_id, now)

    def mark_retry(self, message_id: int, *, at: datetime, error: str, now: datetime) -> None:
        mark_retry(self.connection, message_id, at=at, error=error, now=now)

    def mark_failed(
        self,
        message_id: int,
        *,
        code: str | None,
        detail: str,
        now: datetime,
    ) -> None:
        mark_failed(self.connection, message_id, code=code, detail=detail, now=now)

    def by_id(self, message_id: int) -> StoredMessage | None:
        return by_id(self.connection, message_id)

    def history(
        self,
        conversation_id: int,
        *,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[StoredMessage]:
        return history(self.connection, conversation_id, limit=limit, before_id=before_id)

    def last_inbound(self, conversation_id: int, channel: str) -> StoredMessage | None:
        return last_inbound(self.connection, conversation_id, channel)

    def email_thread(self, conversation_id: int, *, before: int, limit: int = 10) -> list[str]:
        return email_thread(self.connection, conversation_id, before=before, limit=limit)

    def move_conversation(self, source: int, target: int) -> None:
        move_conversation(self.connection, source, target)

    def id_of(self, public_id: str) -> int | None:
        return id_of(self.connection, public_id)

    def unanswered(self, restaurant_id: int, channel: str, address: str) -> list[int]:
        return unanswered(self.connection, restaurant_id, channel, address)

    def replies_after(
        self,
        row_id: int,
        restaurant_id: int,
        channel: str,
        address: str,
    ) -> list[str]:
        return replies_after(self.connection, row_id, restaurant_id, channel, address)
