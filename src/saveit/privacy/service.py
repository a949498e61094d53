"""Export, erasure and retention as use cases over the store.

*Export* hands over everything stored about one guest of one restaurant
(:mod:`saveit.store.guest_export`). *Erasure* pseudonymises it in one
transaction and records who did it (:mod:`saveit.store.erasure`); the rows stay,
so a restaurant's counts of guests, bookings, covers and messages do not move.
*Retention* blanks message texts and raw provider payloads older than
``SAVEIT_MESSAGE_RETENTION_DAYS`` (:mod:`saveit.store.retention`); the
scheduler calls it, and so does ``saveit db purge``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

PURGE_BATCH = 1000  # messages blanked per unit of work


@dataclass(frozen=True, slots=True)
class Erasure:
    guest_id: int
    erased_at: datetime
    counts: dict[str, int]  # rows touched per table

    def to_json(self) -> dict[str, Any]:
        return {
            "guest_id": self.guest_id,
            "erased_at": self.erased_at.isoformat(),
            "counts": self.counts,
        }


@dataclass(frozen=True, slots=True)
class Purged:
    messages: int  # blanked
    link_codes: int  # deleted
    staff_sessions: int = 0  # deleted

    @property
    def total(self) -> int:
        return self.messages + self.link_codes + self.staff_sessions


class GuestPrivacy:
    def __init__(
        self,
        database: Database | DatabaseLike,
        *,
        clock: Callable[[], datetime],
        retention_days: int,
    ) -> None:
        self.db = database_of(database)
        self.clock = clock
        self.retention = timedelta(days=retention_days)

    def export(self, slug: str, guest_id: int) -> dict[str, Any]:
        with self.db.reading() as r:
            restaurant_id = r.restaurants.id_of(slug)
            doc = r.exports.export(restaurant_id, guest_id, self.clock())
        if doc is None:
            raise errors.NotFound("No such guest at this restaurant", guest_id=guest_id)
        return doc

    def erase(self, slug: str, guest_id: int, actor: Actor) -> Erasure:
        now = self.clock()
        with self.db.unit_of_work() as uow:
            restaurant_id = uow.restaurants.id_of(slug)
            scope = uow.erasure.scope_of(restaurant_id, guest_id)
            if scope is None:
                raise errors.NotFound("No such guest at this restaurant", guest_id=guest_id)
            counts = uow.erasure.erase(scope, actor=actor.label, channel=actor.channel, now=now)
        return Erasure(guest_id, now, counts)

    def purge(self) -> Purged:
        """Blank messages and delete link codes past the retention period, and staff
        sessions long over."""
        now = self.clock()
        older_than = now - self.retention
        messages = 0
        while True:
            with self.db.unit_of_work() as uow:
                done = uow.retention.purge_messages(older_than, now, PURGE_BATCH)
            if done is None:
                break
            messages += done
        with self.db.unit_of_work() as uow:
            link_codes = uow.retention.purge_link_codes(older_than)
            sessions = uow.retention.purge_staff_sessions(now)
        return Purged(messages=messages, link_codes=link_codes, staff_sessions=sessions)
