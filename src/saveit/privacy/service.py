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

from sqlalchemy import Engine

from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.store import erasure, guest_export, retention
from saveit.store import restaurants as restaurant_store
from saveit.store.database import reading


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

    @property
    def total(self) -> int:
        return self.messages + self.link_codes


class GuestPrivacy:
    def __init__(
        self, engine: Engine, *, clock: Callable[[], datetime], retention_days: int
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.retention = timedelta(days=retention_days)

    def export(self, slug: str, guest_id: int) -> dict[str, Any]:
        with reading(self.engine) as conn:
            restaurant_id = restaurant_store.id_of(conn, slug)
            doc = guest_export.export(conn, restaurant_id, guest_id, self.clock())
        if doc is None:
            raise errors.NotFound("No such guest at this restaurant", guest_id=guest_id)
        return doc

    def erase(self, slug: str, guest_id: int, actor: Actor) -> Erasure:
        now = self.clock()
        with self.engine.begin() as conn:
            restaurant_id = restaurant_store.id_of(conn, slug)
            scope = erasure.scope_of(conn, restaurant_id, guest_id)
            if scope is None:
                raise errors.NotFound("No such guest at this restaurant", guest_id=guest_id)
            counts = erasure.erase(conn, scope, actor=actor.label, channel=actor.channel, now=now)
        return Erasure(guest_id, now, counts)

    def purge(self) -> Purged:
        """Blank messages and delete link codes past the retention period."""
        now = self.clock()
        return Purged(
            messages=retention.purge_messages(self.engine, now - self.retention, now),
            link_codes=retention.purge_link_codes(self.engine, now - self.retention),
        )
