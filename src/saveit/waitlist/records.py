"""What every move of the waitlist leaves behind: audit rows and outbox events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from saveit.domain.commands import Actor
from saveit.domain.views import ReservationView
from saveit.store.unit_of_work import UnitOfWork
from saveit.store.waitlist import EntryView

SYSTEM = Actor("system", "waitlist", "system")


def record_hold(
    uow: UnitOfWork,
    view: ReservationView,
    before: ReservationView | None,
    action: str,
    actor: Actor,
    now: datetime,
    entry: EntryView,
) -> None:
    """The hold's audit row and its ``reservation.<action>`` event, as a
    booking's: the live feed and the availability caches hear of it."""
    uow.reservations.record_change(
        view, actor, action, before, now, extra={"waitlist_entry": entry.code}
    )


def audit(
    uow: UnitOfWork,
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
    uow.waitlist.log(
        entry=entry,
        action=action,
        actor=actor.label,
        channel=actor.channel,
        at=now,
        detail=detail,
    )
    uow.emit(
        restaurant_id=entry.restaurant_id,
        type_=f"waitlist.{action}",
        payload={**detail, "actor": actor.label, "channel": actor.channel},
        at=now,
    )
