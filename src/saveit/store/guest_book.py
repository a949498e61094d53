"""A restaurant's guests as staff look them up: search by name, phone or email,
one guest's whole record with their bookings, and staff's notes and tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, false, func, or_, select, update

from saveit.domain.views import ReservationView
from saveit.store.repository import Repository, bound
from saveit.store.reservations import _view_query, _views
from saveit.store.schema import guests, reservations


@dataclass(frozen=True, slots=True)
class GuestRecord:
    id: int
    name: str
    phone: str | None
    email: str | None
    language: str | None
    notes: str
    allergies: list[str]
    tags: list[str]
    visit_count: int
    no_show_count: int
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> GuestRecord:
    return GuestRecord(
        id=int(row.id),
        name=row.name or "",
        phone=row.phone,
        email=row.email,
        language=row.language,
        notes=row.notes or "",
        allergies=[str(a) for a in row.allergies or ()],
        tags=[str(t) for t in row.tags or ()],
        visit_count=int(row.visit_count),
        no_show_count=int(row.no_show_count),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    conn: Connection, restaurant_id: int, query: str, *, limit: int = 50
) -> list[GuestRecord]:
    """Guests whose name or email holds ``query`` (any case), or whose phone holds
    its digits (``600 11 22`` finds ``+34600112233``); no query: the latest changed."""
    mine = select(guests).where(guests.c.restaurant_id == restaurant_id)
    words = query.strip().lower()
    if not words:
        rows = conn.execute(
            mine.order_by(guests.c.updated_at.desc(), guests.c.id.desc()).limit(limit)
        )
        return [_record(r) for r in rows]
    pattern = _like(words)
    digits = "".join(c for c in words if c.isdigit())
    found: list[ColumnElement[bool]] = [
        func.lower(guests.c.name).like(pattern, escape="\\"),
        func.lower(guests.c.email).like(pattern, escape="\\"),
    ]
    if len(digits) >= 3 and not any(c.isalpha() for c in words):
        found.append(guests.c.phone.like(f"%{digits}%"))
    condition = or_(false(), *found)
    rows = conn.execute(mine.where(condition).order_by(guests.c.name, guests.c.id).limit(limit))
    return [_record(r) for r in rows]


def record(conn: Connection, restaurant_id: int, guest_id: int) -> GuestRecord | None:
    row = conn.execute(
        select(guests).where(guests.c.restaurant_id == restaurant_id, guests.c.id == guest_id)
    ).first()
    return None if row is None else _record(row)


def bookings(
    conn: Connection, restaurant_id: int, guest_id: int, *, limit: int = 50
) -> list[ReservationView]:
    """The guest's bookings here, latest first."""
    return _views(
        conn,
        _view_query()
        .where(reservations.c.restaurant_id == restaurant_id, reservations.c.guest_id == guest_id)
        .order_by(reservations.c.start_at.desc(), reservations.c.id.desc())
        .limit(limit),
    )


def annotate(
    conn: Connection,
    restaurant_id: int,
    guest_id: int,
    *,
    notes: str,
    tags: list[str],
    now: datetime,
) -> bool:
    """Staff's notes and tags for the guest; False when there is no such guest here."""
    done = conn.execute(
        update(guests)
        .where(guests.c.restaurant_id == restaurant_id, guests.c.id == guest_id)
        .values(notes=notes, tags=tags, updated_at=now)
    )
    return bool(done.rowcount)


class GuestBookRepository(Repository):
    search = bound(search)
    record = bound(record)
    bookings = bound(bookings)
    annotate = bound(annotate)
