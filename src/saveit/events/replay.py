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

from saveit.events.bus import Bus
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger(__name__)


HORIZON = timedelta(days=1)  # older events are news to nobody any more


def replay_unhandled(
    database: Database | DatabaseLike,
    bus: Bus,
    group: str,
    *,
    now: datetime | None = None,
    limit: int = 10_000,
) -> int:
    """Publish the published-but-unhandled outbox rows (of the last day) after
    ``group``'s last handled one."""
    since = (now or datetime.now(UTC)) - HORIZON
    with database_of(database).reading() as r:
        events = r.outbox.unhandled(group, since, limit)
    if events:
        bus.publish(events)
        log.info(
            "%s: %d published event(s) not yet handled put back on the bus", group, len(events)
        )
    return len(events)
