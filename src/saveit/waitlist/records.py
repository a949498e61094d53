"""What every move of the waitlist leaves behind: audit rows and outbox events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from saveit.domain.commands import Actor
from saveit.domain.views import ReservationView
from saveit.store import reservations as reservation_store
from saveit.store import waitlist as store
from saveit.store.waitlist import EntryView

SYSTEM = Actor("system", "waitlist", "system")


def record_hold(
    conn: Connection,
    view: ReservationView,
    before: ReservationView | None,
    action: str,
    actor: Actor,
    now: datetime,
    entry: EntryView,
) -> None:
    """The hold's audit row and its ``reservation.<action>`` event, as a
    booking's: the live feed and the availability caches hear of it."""
    reservation_store.record_change(
        conn, view, actor, action, before, now, extra={"waitlist_entry": entry.code}
    )


def audit(
    conn: Connection,
    entry: EntryView,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    before: EntryView | None = None,
    reason: str = "",
) -> None:
    """The entry's audit row and its ``waitlist.<action>`` event."""
    detail: dict[str, Any] = {"entry": entry.snapshot()}
    if before is not None:
        detail["before"] = before.snapshot()
    if reason:
        detail["reason"] = reason
    store.log(
        conn,
        entry=entry,
        action=action,
        actor=actor.label,
        channel=actor.channel,
        at=now,
        detail=detail,
    )
    reservation_store.emit(
        conn,
        restaurant_id=entry.restaurant_id,
        type_=f"waitlist.{action}",
        payload={**detail, "actor": actor.label, "channel": actor.channel},
        at=now,
    )
