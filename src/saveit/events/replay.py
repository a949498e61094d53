"""Resuming a consumer group on the in-process bus after a restart.

The embedded default's bus lives in memory, so an event the relay published
(and marked published in the outbox) but a consumer had not handled when the
process stopped would be gone. The outbox is durable and ``processed_events``
records what each group handled, so on start the group's position is the last
outbox row it recorded, and every published row after it that the group has
not handled is put back on the bus. Handled rows are skipped twice over (not
replayed, and deduplicated by the consumer anyway).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from saveit.events.bus import Bus
from saveit.events.relay import _event
from saveit.store.database import reading
from saveit.store.schema import outbox, processed_events

log = logging.getLogger(__name__)


HORIZON = timedelta(days=1)  # older events are news to nobody any more


def replay_unhandled(
    engine: Engine,
    bus: Bus,
    group: str,
    *,
    now: datetime | None = None,
    limit: int = 10_000,
) -> int:
    """Publish the published-but-unhandled outbox rows (of the last day) after
    ``group``'s last handled one."""
    handled = select(processed_events.c.event_id).where(processed_events.c.consumer == group)
    with reading(engine) as conn:
        position = conn.execute(
            select(func.max(outbox.c.id)).where(outbox.c.event_id.in_(handled))
        ).scalar()
        rows = conn.execute(
            select(outbox)
            .where(
                outbox.c.published_at.is_not(None),
                outbox.c.created_at >= (now or datetime.now(UTC)) - HORIZON,
                outbox.c.id > (position or 0),
                outbox.c.event_id.not_in(handled),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        ).all()
    if rows:
        bus.publish([_event(row) for row in rows])
        log.info("%s: %d published event(s) not yet handled put back on the bus", group, len(rows))
    return len(rows)
