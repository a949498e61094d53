"""A stored channel message as the layers above see it, and the notices that wake
the channel workers when messages are committed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
)

from saveit.domain.messages import (
    OutboundMessage,
)

# PostgreSQL NOTIFY channels that wake the channel workers of every process
# (saveit.messaging.workers) when work is committed: delivered at commit, once
# per transaction however many rows it queued.
INBOX_NOTICE = "saveit_inbox"


OUTBOX_NOTICE = "saveit_outbox"


def notify_statement(notice: str) -> str:
    """The PostgreSQL statement that rings ``notice`` at commit."""
    return f"NOTIFY {notice}"


def wake(conn: Connection, notice: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(notify_statement(notice))


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


def stored(row: Any) -> StoredMessage:
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
