"""Waitlist rows: entries, the conditional updates that move them, their audit trail.

Every move of an entry is an ``UPDATE … WHERE status = <expected>`` (and the
version or the hold it expects): of two workers, an accept and the expiry
sweep, or a guest leaving while an offer is made, exactly one changes the row
and the other sees 0 rows and steps back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from saveit.store.repository import Repository, bound
from saveit.store.schema import (
    guests,
    reservations,
    restaurants,
    waitlist_entries,
    waitlist_log,
)

OPEN_STATUSES = ("waiting", "offered")
OUTCOMES = ("joined", "offered", "accepted", "declined", "expired", "closed", "left")


@dataclass(frozen=True, slots=True)
class EntryView:
    """One guest's place on a day's list, as staff and the guest see it."""

    id: int
    code: str
    restaurant_id: int
    restaurant: str
    guest_id: int
    guest_name: str
    day: date
    earliest: datetime
    latest: datetime
    party_size: int
    area: str | None
    channel: str
    status: str
    hold_id: int | None
    hold_code: str | None
    hold_start: datetime | None
    hold_expires_at: datetime | None
    reservation_code: str | None
    offers: int
    notes: str
    joined_at: datetime
    version: int

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    def snapshot(self) -> dict[str, Any]:
        """The JSON shape of audit rows and outbox events."""
        return {
            "id": self.id,
            "code": self.code,
            "restaurant": self.restaurant,
            "guest_id": self.guest_id,
            "day": self.day.isoformat(),
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "party_size": self.party_size,
            "area": self.area,
            "channel": self.channel,
            "status": self.status,
            "hold": self.hold_code,
            "hold_start": self.hold_start.isoformat() if self.hold_start else None,
            "hold_expires_at": (self.hold_expires_at.isoformat() if self.hold_expires_at else None),
            "reservation": self.reservation_code,
            "version": self.version,
        }


_hold = reservations.alias("hold")
_booked = reservations.alias("booked")
_VIEW = (
    select(
        waitlist_entries,
        restaurants.c.slug.label("restaurant_slug"),
        guests.c.name.label("guest_name"),
        _hold.c.code.label("hold_code"),
        _hold.c.start_at.label("hold_start"),
        _booked.c.code.label("reservation_code"),
    )
    .join(restaurants, restaurants.c.id == waitlist_entries.c.restaurant_id)
    .join(guests, guests.c.id == waitlist_entries.c.guest_id)
    .outerjoin(_hold, _hold.c.id == waitlist_entries.c.hold_id)
    .outerjoin(_booked, _booked.c.id == waitlist_entries.c.reservation_id)
)


def _views(conn: Connection, query: Any, params: dict[str, Any] | None = None) -> list[EntryView]:
    return [
        EntryView(
            id=r.id,
            code=r.code,
            restaurant_id=r.restaurant_id,
            restaurant=r.restaurant_slug,
            guest_id=r.guest_id,
            guest_name=r.guest_name or "",
            day=r.day,
            earliest=r.earliest,
            latest=r.latest,
            party_size=r.party_size,
            area=r.area,
            channel=r.channel,
            status=r.status,
            hold_id=r.hold_id,
            hold_code=r.hold_code,
            hold_start=r.hold_start,
            hold_expires_at=r.hold_expires_at,
            reservation_code=r.reservation_code,
            offers=r.offers,
            notes=r.notes,
            joined_at=r.joined_at,
            version=r.version,
        )
        for r in conn.execute(query, params).all()
    ]


def by_code(conn: Connection, code: str) -> EntryView | None:
    found = _views(conn, _VIEW.where(waitlist_entries.c.code == code))
    return found[0] if found else None


def by_id(conn: Connection, entry_id: int) -> EntryView:
    return _views(conn, _VIEW.where(waitlist_entries.c.id == entry_id))[0]


def by_hold(conn: Connection, hold_code: str) -> EntryView | None:
    found = _views(conn, _VIEW.where(_hold.c.code == hold_code))
    return found[0] if found else None


def of_day(
    conn: Connection, restaurant_id: int, day: date, statuses: Sequence[str] | None = None
) -> list[EntryView]:
    """A day's entries in the order they joined (the order offers are made in)."""
    query = _VIEW.where(
        waitlist_entries.c.restaurant_id == restaurant_id, waitlist_entries.c.day == day
    )
    if statuses is not None:
        query = query.where(waitlist_entries.c.status.in_(list(statuses)))
    return _views(conn, query.order_by(waitlist_entries.c.joined_at, waitlist_entries.c.id))


def of_guest(conn: Connection, restaurant_id: int, guest_id: int) -> list[EntryView]:
    """A guest's open entries, soonest day first. Asked for every booking the
    platform makes (``Waitlist.booked_elsewhere``), so built once: building and
    hashing this join on each call was most of its cost."""
    return _views(conn, _OF_GUEST, {"restaurant_id": restaurant_id, "guest_id": guest_id})


_OF_GUEST = _VIEW.where(
    waitlist_entries.c.restaurant_id == bindparam("restaurant_id"),
    waitlist_entries.c.guest_id == bindparam("guest_id"),
    waitlist_entries.c.status.in_(OPEN_STATUSES),
).order_by(waitlist_entries.c.day, waitlist_entries.c.id)


def guests_waiting(conn: Connection, guests: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (restaurant id, guest id) pairs hold an open entry: one
    statement for a batch of bookings, of which nearly none is by a waiting guest."""
    if not guests:
        return set()
    rows = conn.execute(
        select(waitlist_entries.c.restaurant_id, waitlist_entries.c.guest_id)
        .where(
            waitlist_entries.c.guest_id.in_(sorted({g for _, g in guests})),
            waitlist_entries.c.status.in_(OPEN_STATUSES),
        )
        .distinct()
    )
    return {(r, g) for r, g in rows} & set(guests)


def has_waiting(conn: Connection, restaurant_id: int, day: date) -> bool:
    """One indexed probe: the whole cost of a freed seat when nobody waits."""
    found = conn.execute(
        select(waitlist_entries.c.id)
        .where(
            waitlist_entries.c.restaurant_id == restaurant_id,
            waitlist_entries.c.day == day,
            waitlist_entries.c.status == "waiting",
        )
        .limit(1)
    ).first()
    return found is not None


def waiting_days(conn: Connection, today: date) -> list[tuple[int, date]]:
    """(restaurant, day) pairs with someone waiting from ``today`` on: what the
    sweep re-offers (capacity freed by a configuration change emits no event)."""
    rows = conn.execute(
        select(waitlist_entries.c.restaurant_id, waitlist_entries.c.day)
        .where(waitlist_entries.c.status == "waiting", waitlist_entries.c.day >= today)
        .distinct()
    ).all()
    return [(int(r[0]), r[1]) for r in rows]


def expired_holds(conn: Connection, now: datetime) -> list[EntryView]:
    return _views(
        conn,
        _VIEW.where(
            waitlist_entries.c.status == "offered", waitlist_entries.c.hold_expires_at <= now
        ).order_by(waitlist_entries.c.hold_expires_at),
    )


def passed(conn: Connection, now: datetime) -> list[EntryView]:
    """Waiting entries whose latest start has gone by."""
    return _views(
        conn,
        _VIEW.where(waitlist_entries.c.status == "waiting", waitlist_entries.c.latest < now),
    )


def insert_entry(conn: Connection, values: dict[str, Any]) -> int:
    return int(
        conn.execute(insert(waitlist_entries).returning(waitlist_entries.c.id), values).scalar_one()
    )


def move(
    conn: Connection,
    entry_id: int,
    *,
    from_status: str,
    values: dict[str, Any],
    version: int | None = None,
    hold_id: int | None = None,
    expires_by: datetime | None = None,
    live_at: datetime | None = None,
) -> bool:
    """Change an entry only if it still is as expected; True when it was."""
    query = update(waitlist_entries).where(
        waitlist_entries.c.id == entry_id, waitlist_entries.c.status == from_status
    )
    if version is not None:
        query = query.where(waitlist_entries.c.version == version)
    if hold_id is not None:
        query = query.where(waitlist_entries.c.hold_id == hold_id)
    if expires_by is not None:  # the sweep: only a hold whose time is up
        query = query.where(waitlist_entries.c.hold_expires_at <= expires_by)
    if live_at is not None:  # an accept: only a hold still running
        query = query.where(waitlist_entries.c.hold_expires_at > live_at)
    values = {**values, "version": waitlist_entries.c.version + 1}
    return bool(conn.execute(query.values(values)).rowcount)


def set_hold_status(conn: Connection, hold_id: int, to: str, now: datetime) -> bool:
    """``held`` → ``confirmed`` (accepted) or ``released``; False when it was not held."""
    return bool(
        conn.execute(
            update(reservations)
            .where(reservations.c.id == hold_id, reservations.c.status == "held")
            .values(status=to, updated_at=now, version=reservations.c.version + 1)
        ).rowcount
    )


def log(
    conn: Connection,
    *,
    entry: EntryView,
    action: str,
    actor: str,
    channel: str,
    at: datetime,
    detail: dict[str, Any],
) -> None:
    conn.execute(
        insert(waitlist_log),
        {
            "entry_id": entry.id,
            "restaurant_id": entry.restaurant_id,
            "at": at,
            "actor": actor,
            "channel": channel,
            "action": action,
            "detail": detail,
        },
    )


def outcomes(
    conn: Connection, restaurant_id: int, since: datetime, until: datetime
) -> dict[str, int]:
    """How many entries joined, were offered, accepted … in ``[since, until)``."""
    rows = conn.execute(
        select(waitlist_log.c.action, func.count())
        .where(
            waitlist_log.c.restaurant_id == restaurant_id,
            waitlist_log.c.at >= since,
            waitlist_log.c.at < until,
        )
        .group_by(waitlist_log.c.action)
    ).all()
    counted = {action: 0 for action in OUTCOMES}
    counted.update({str(action): int(n) for action, n in rows})
    return counted


class WaitlistRepository(Repository):
    """The notify list's entries and their history."""

    by_code = bound(by_code)
    by_id = bound(by_id)
    by_hold = bound(by_hold)
    of_day = bound(of_day)
    of_guest = bound(of_guest)
    guests_waiting = bound(guests_waiting)
    has_waiting = bound(has_waiting)
    waiting_days = bound(waiting_days)
    expired_holds = bound(expired_holds)
    passed = bound(passed)
    insert_entry = bound(insert_entry)
    move = bound(move)
    set_hold_status = bound(set_hold_status)
    log = bound(log)
    outcomes = bound(outcomes)
