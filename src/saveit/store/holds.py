"""Rows of ``booking_holds``: public bookings waiting for their guest's code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from saveit.store.repository import Repository, bound
from saveit.store.schema import booking_holds as h
from saveit.store.schema import reservations


@dataclass(frozen=True, slots=True)
class Hold:
    reservation_id: int
    channel: str
    contact: str
    code_hash: str
    attempts: int
    expires_at: datetime
    verified_at: datetime | None


def add(
    conn: Connection,
    *,
    reservation_id: int,
    restaurant_id: int,
    channel: str,
    contact: str,
    code_hash: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    conn.execute(
        insert(h).values(
            reservation_id=reservation_id,
            restaurant_id=restaurant_id,
            channel=channel,
            contact=contact,
            code_hash=code_hash,
            attempts=0,
            expires_at=expires_at,
            created_at=now,
        )
    )


def of(conn: Connection, reservation_id: int) -> Hold | None:
    row = conn.execute(select(h).where(h.c.reservation_id == reservation_id)).first()
    if row is None:
        return None
    return Hold(
        reservation_id=row.reservation_id,
        channel=row.channel,
        contact=row.contact,
        code_hash=row.code_hash,
        attempts=row.attempts,
        expires_at=row.expires_at,
        verified_at=row.verified_at,
    )


def count_attempt(conn: Connection, reservation_id: int, attempts: int) -> bool:
    """One more wrong code, counted only if nobody counted one meanwhile."""
    return bool(
        conn.execute(
            update(h)
            .where(h.c.reservation_id == reservation_id, h.c.attempts == attempts)
            .values(attempts=attempts + 1)
        ).rowcount
    )


def mark_verified(conn: Connection, reservation_id: int, now: datetime) -> bool:
    """True for the one caller that verified a live hold."""
    return bool(
        conn.execute(
            update(h)
            .where(
                h.c.reservation_id == reservation_id,
                h.c.verified_at.is_(None),
                h.c.expires_at > now,
            )
            .values(verified_at=now)
        ).rowcount
    )


def expired(conn: Connection, now: datetime, limit: int = 200) -> list[str]:
    """Codes of bookings still pending whose hold ran out unverified."""
    return list(
        conn.execute(
            select(reservations.c.code)
            .join(h, h.c.reservation_id == reservations.c.id)
            .where(
                h.c.verified_at.is_(None),
                h.c.expires_at <= now,
                reservations.c.status == "pending",
            )
            .order_by(h.c.expires_at)
            .limit(limit)
        ).scalars()
    )


class HoldRepository(Repository):
    """Seats held for a waitlist offer, and the code that takes them."""

    add = bound(add)
    of = bound(of)
    count_attempt = bound(count_attempt)
    mark_verified = bound(mark_verified)
    expired = bound(expired)
