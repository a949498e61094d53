"""What the outbox holds that the relay has not published yet (read when metrics are scraped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from saveit.store.database import reading
from saveit.store.schema import outbox

_BACKLOG = select(func.count(), func.min(outbox.c.created_at)).where(
    outbox.c.published_at.is_(None)
)


def backlog(engine: Engine) -> tuple[int, datetime | None]:
    """Unpublished rows and the creation time of the oldest (one indexed query)."""
    with reading(engine) as conn:
        count, oldest = conn.execute(_BACKLOG).one()
    return int(count), oldest
