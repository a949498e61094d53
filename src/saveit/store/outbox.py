"""The outbox: events written in the transaction of the change they describe, for
the relay to publish (see :mod:`saveit.events.relay`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from saveit.observe.context import with_carrier
from saveit.store.schema import outbox

# Built once: the booking path's hot insert (see store.database.ignoring_conflicts).
INSERT_OUTBOX = insert(outbox)
_BACKLOG = select(func.count(), func.min(outbox.c.created_at)).where(
    outbox.c.published_at.is_(None)
)


def emit(
    conn: Connection, *, restaurant_id: int, type_: str, payload: dict[str, Any], at: datetime
) -> str:
    """An outbox event on its own (changes that write no audit row)."""
    event_id = str(uuid.uuid4())
    conn.execute(
        INSERT_OUTBOX,
        {
            "event_id": event_id,
            "restaurant_id": restaurant_id,
            "type": type_,
            "payload": with_carrier(payload),
            "created_at": at,
        },
    )
    return event_id


def backlog(conn: Connection) -> tuple[int, datetime | None]:
    """Unpublished rows and the creation time of the oldest (one indexed query)."""
    count, oldest = conn.execute(_BACKLOG).one()
    return int(count), oldest


class OutboxRepository:
    """Events waiting for the relay.

    Bound to one unit of work's connection; see :mod:`saveit.store.unit_of_work`.
    """

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def emit(
        self,
        *,
        restaurant_id: int,
        type_: str,
        payload: dict[str, Any],
        at: datetime,
    ) -> str:
        return emit(
            self.connection,
            restaurant_id=restaurant_id,
            type_=type_,
            payload=payload,
            at=at,
        )

    def backlog(self) -> tuple[int, datetime | None]:
        return backlog(self.connection)
