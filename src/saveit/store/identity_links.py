"""Linking a guest's channel identities with proof: a code sent to the phone or
email someone claims, and the merge of two guests once it is proven."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from saveit.store import messages
from saveit.store.schema import (
    channel_identities,
    conversations,
    guests,
    link_codes,
    reservations,
)


@dataclass(frozen=True, slots=True)
class LinkCode:
    id: int
    identity_id: int
    guest_id: int | None
    contact: str
    code_hash: str
    attempts: int
    expires_at: datetime


def add_link_code(
    conn: Connection,
    *,
    restaurant_id: int,
    identity_id: int,
    guest_id: int | None,
    contact: str,
    code_hash: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    """A new code replaces any earlier one of the same identity."""
    conn.execute(
        update(link_codes)
        .where(link_codes.c.identity_id == identity_id, link_codes.c.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    conn.execute(
        insert(link_codes).values(
            restaurant_id=restaurant_id,
            identity_id=identity_id,
            guest_id=guest_id,
            contact=contact,
            code_hash=code_hash,
            attempts=0,
            expires_at=expires_at,
            created_at=now,
        )
    )


def live_link_code(conn: Connection, identity_id: int, now: datetime) -> LinkCode | None:
    row = conn.execute(
        select(link_codes)
        .where(
            link_codes.c.identity_id == identity_id,
            link_codes.c.consumed_at.is_(None),
            link_codes.c.expires_at > now,
        )
        .order_by(link_codes.c.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if row is None:
        return None
    return LinkCode(
        int(row.id),
        int(row.identity_id),
        row.guest_id,
        row.contact,
        row.code_hash,
        row.attempts,
        row.expires_at,
    )


def count_attempt(conn: Connection, code_id: int, *, exhausted: bool, now: datetime) -> None:
    values: dict[str, Any] = {"attempts": link_codes.c.attempts + 1}
    if exhausted:
        values["consumed_at"] = now
    conn.execute(update(link_codes).where(link_codes.c.id == code_id).values(**values))


def consume_link_code(conn: Connection, code_id: int, now: datetime) -> None:
    conn.execute(update(link_codes).where(link_codes.c.id == code_id).values(consumed_at=now))


def merge_guests(conn: Connection, *, source: int, target: int, now: datetime) -> None:
    """Fold guest ``source`` into ``target`` in the caller's transaction: their
    reservations, identities and conversation move, counts add up, blank
    details are filled, and ``source`` is deleted."""
    if source == target:
        return
    src = conn.execute(select(guests).where(guests.c.id == source)).one()
    dst = conn.execute(select(guests).where(guests.c.id == target)).one()
    conn.execute(
        update(reservations).where(reservations.c.guest_id == source).values(guest_id=target)
    )
    conn.execute(
        update(channel_identities)
        .where(channel_identities.c.guest_id == source)
        .values(guest_id=target)
    )
    conn.execute(update(link_codes).where(link_codes.c.guest_id == source).values(guest_id=target))
    src_conv = conn.execute(select(conversations).where(conversations.c.guest_id == source)).first()
    if src_conv is not None:
        dst_conv = conn.execute(
            select(conversations).where(
                conversations.c.guest_id == target,
                conversations.c.restaurant_id == src_conv.restaurant_id,
            )
        ).first()
        if dst_conv is None:
            conn.execute(
                update(conversations)
                .where(conversations.c.id == src_conv.id)
                .values(guest_id=target)
            )
        else:
            messages.move_conversation(conn, src_conv.id, dst_conv.id)
            conn.execute(
                update(conversations)
                .where(conversations.c.id == dst_conv.id)
                .values(
                    last_message_at=func.coalesce(dst_conv.last_message_at, now),
                    handoff=bool(dst_conv.handoff or src_conv.handoff),
                    version=conversations.c.version + 1,
                )
            )
            conn.execute(delete(conversations).where(conversations.c.id == src_conv.id))
    conn.execute(delete(guests).where(guests.c.id == source))
    fill: dict[str, Any] = {
        "visit_count": dst.visit_count + src.visit_count,
        "no_show_count": dst.no_show_count + src.no_show_count,
        "updated_at": now,
    }
    for column in ("name", "phone", "email", "language"):
        if not getattr(dst, column) and getattr(src, column):
            fill[column] = getattr(src, column)
    if not dst.notes and src.notes:
        fill["notes"] = src.notes
    conn.execute(update(guests).where(guests.c.id == target).values(**fill))


def guest_by_contact(
    conn: Connection, restaurant_id: int, *, phone: str | None, email: str | None
) -> int | None:
    column = guests.c.phone if phone else guests.c.email
    value = phone or email
    if value is None:
        return None
    row = conn.execute(
        select(guests.c.id).where(guests.c.restaurant_id == restaurant_id, column == value)
    ).first()
    return None if row is None else int(row.id)
