"""Catching a reconnecting client up from the outbox, the source of truth.

The client says the last position (outbox id) it saw. If the outbox still holds
everything after it and that is not too much to replay, it gets exactly those
events, in order, rendered as the live feed renders them. Otherwise (unknown
position, rows pruned, too far behind) the caller sends a snapshot of the day
instead, so the screen is rebuilt rather than left stale.

The head (highest committed id) is read *before* anything else: a snapshot
taken after it is at least as new as the position it carries, and the caller
has already subscribed, so events committed meanwhile arrive live (and a
replayed event that also arrives live is dropped by event id).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from saveit.domain.model import Restaurant
from saveit.realtime.messages import LiveMessage, event_messages
from saveit.realtime.sources import event_of
from saveit.store.schema import outbox


@dataclass(frozen=True, slots=True)
class CatchUp:
    head: int
    replay: list[LiveMessage] | None  # None: send a snapshot at ``head`` instead


def catch_up(engine: Engine, restaurant: Restaurant, since: int | None, *, limit: int) -> CatchUp:
    with engine.connect() as conn:
        conn.execution_options(readonly=True)
        with conn.begin():
            lowest, head = conn.execute(
                select(
                    func.coalesce(func.min(outbox.c.id), 0),
                    func.coalesce(func.max(outbox.c.id), 0),
                )
            ).one()
            if since is None or since < 0 or since > head or (lowest and since < lowest - 1):
                return CatchUp(int(head), None)
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.restaurant_id == restaurant.id, outbox.c.id > since)
                .order_by(outbox.c.id)
                .limit(limit + 1)
            ).all()
    if len(rows) > limit:
        return CatchUp(int(head), None)
    messages = [m for row in rows for m in event_messages(event_of(row), lambda _: restaurant)]
    return CatchUp(int(head), messages)
