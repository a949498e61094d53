"""An outbound message's delivery: the send's outcome (sent, retry, failed) and the
provider's statuses that follow it. Statuses only move forward (a late
``delivered`` never undoes ``read``), and one that arrives before we know its
message waits in ``early_statuses`` for the send that names it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    case,
    delete,
    literal,
    select,
    update,
)

from saveit.domain.messages import (
    DeliveryStatus,
    StatusUpdate,
    rank,
)
from saveit.store.database import ignoring_conflicts
from saveit.store.message_rows import StoredMessage, stored
from saveit.store.outbox import event_params, event_written_if, mark_written
from saveit.store.schema import channel_messages as m
from saveit.store.schema import early_statuses as early
from saveit.store.tenancy import current_tenant

_RANK_OF_COLUMN = case(
    {status.value: rank(status) for status in DeliveryStatus}, value=m.c.status, else_=0
)


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
        return stored(row)
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


# Every send runs these: built once (parameter names differ from column names,
# which an UPDATE reserves for its SET).
_TAKE_EARLY = (
    delete(early)
    .where(
        early.c.channel == bindparam("on_channel"),
        early.c.provider_message_id == bindparam("sent_as"),
    )
    .returning(early.c.status, early.c.error_code, early.c.error_detail, early.c.received_at)
)
_MARK_SENDING = (
    update(m)
    .where(m.c.id == bindparam("message"))
    .values(send_started_at=bindparam("now", type_=m.c.send_started_at.type))
)
_RECORD_SEND = (
    update(m)
    .where(m.c.id == bindparam("message"))
    .values(
        provider_message_id=bindparam("sent_as", type_=m.c.provider_message_id.type),
        status=case(
            (m.c.status == DeliveryStatus.QUEUED.value, literal(DeliveryStatus.SENT.value)),
            else_=m.c.status,
        ),
        attempts=m.c.attempts + 1,
        processed_at=bindparam("now", type_=m.c.processed_at.type),
        updated_at=bindparam("now", type_=m.c.updated_at.type),
        claimed_until=None,
    )
)
_MARK_SENT = _RECORD_SEND.returning(m.c.channel)


def _apply_early(
    conn: Connection, channel: str, provider_message_id: str, now: datetime
) -> StoredMessage | None:
    """Statuses that arrived before ``provider_message_id`` was recorded, applied
    in order of rank; returns the message if they moved it."""
    rows = conn.execute(_TAKE_EARLY, {"on_channel": channel, "sent_as": provider_message_id}).all()
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


def release(conn: Connection, message_ids: Sequence[int]) -> None:
    """Give up this process's lease on queued messages it never started sending (it
    is stopping), so the next worker sends them at once rather than after the lease."""
    if message_ids:
        conn.execute(
            update(m)
            .where(
                m.c.id.in_(message_ids),
                m.c.direction == "out",
                m.c.send_started_at.is_(None),
                m.c.processed_at.is_(None),
            )
            .values(claimed_until=None)
        )


def mark_sending(conn: Connection, message_id: int, now: datetime) -> None:
    conn.execute(_MARK_SENDING, {"message": message_id, "now": now})


def mark_sent(
    conn: Connection, message_id: int, provider_message_id: str, now: datetime
) -> StoredMessage | None:
    """Record the send; returns the message if statuses the provider reported
    before this commit moved it on (a ``failed`` among them is the caller's to
    announce)."""
    channel = conn.execute(
        _MARK_SENT, {"message": message_id, "sent_as": provider_message_id, "now": now}
    ).scalar_one()
    return _apply_early(conn, channel, provider_message_id, now)


def _sent_at_once() -> Any:
    # Recorded only when no status the provider reported beat the record here: those
    # are moved onto the message, and perhaps announced, by ``mark_sent``.
    sent = (
        _RECORD_SEND.where(
            ~select(early.c.provider_message_id)
            .where(
                early.c.channel == m.c.channel,
                early.c.provider_message_id == bindparam("sent_as"),
            )
            .exists()
        )
        .returning(m.c.id)
        .cte("sent")
    )
    announced = event_written_if(select(sent.c.id).exists(), "announced")
    # the event's id is read so that the statement names (and renders) its WITH
    return select(sent.c.id, announced.c.id.label("event_row_id")).select_from(
        sent.outerjoin(announced, literal(True))
    )


_SENT_AT_ONCE = _sent_at_once()


def sent_at_once(
    conn: Connection,
    message_id: int,
    provider_message_id: str,
    now: datetime,
    event: dict[str, Any],
) -> bool:
    """Record the send and write its event (``outbox.event_row``) in one statement
    (PostgreSQL), so that on ``conn`` in autocommit it costs one round trip instead
    of a transaction's five: nearly every send, once the provider has answered.
    False, with nothing written, when statuses the provider reported before this
    record wait for it (or this is not PostgreSQL): then :func:`mark_sent` in a
    transaction applies them."""
    if conn.dialect.name != "postgresql" or current_tenant() is not None:
        return False
    row = conn.execute(
        _SENT_AT_ONCE,
        {
            "message": message_id,
            "sent_as": provider_message_id,
            "now": now,
            **event_params(event),
        },
    ).first()
    if row is None:
        return False
    mark_written(conn)
    return True


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
