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

from saveit.domain.model import Restaurant
from saveit.realtime.messages import LiveMessage, event_messages
from saveit.store.unit_of_work import Database, DatabaseLike, database_of


@dataclass(frozen=True, slots=True)
class CatchUp:
    head: int
    replay: list[LiveMessage] | None  # None: send a snapshot at ``head`` instead


def catch_up(
    database: Database | DatabaseLike, restaurant: Restaurant, since: int | None, *, limit: int
) -> CatchUp:
    with database_of(database).reading() as r:
        lowest, head = r.outbox.bounds()
        if since is None or since < 0 or since > head or (lowest and since < lowest - 1):
            return CatchUp(head, None)
        events = r.outbox.of_restaurant_after(restaurant.id, since, limit + 1)
    if len(events) > limit:
        return CatchUp(head, None)
    messages = [m for event in events for m in event_messages(event, lambda _: restaurant)]
    return CatchUp(head, messages)


class Backlog:
    """:func:`catch_up` bound to a database, for a live endpoint in a layer that
    may not hold the store itself (the staff console's)."""

    def __init__(self, database: Database | DatabaseLike, *, limit: int = 1000) -> None:
        self.database = database
        self.limit = limit

    def __call__(self, restaurant: Restaurant, since: int | None) -> CatchUp:
        return catch_up(self.database, restaurant, since, limit=self.limit)
