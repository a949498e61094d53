"""The analytics' facts: what one restaurant's rows say about a range of days,
read for :mod:`saveit.analytics.daily` to count (and the few facts the analytics
record themselves: refused bookings, handoffs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from saveit.domain.analytics import (
    AttemptFact,
    HandoffFact,
    InboundFact,
    RefusalFact,
    SurveyFact,
    VisitFact,
)
from saveit.store.schema import (
    analytics_handoffs,
    booking_refusals,
    channel_messages,
    conversations,
    guest_surveys,
    reservation_tables,
    reservations,
)

NOT_BOOKINGS = ("held", "released")  # waitlist holds: seats, not anyone's booking
SEATED = ("checked_in", "completed")
_SENT = ("sent", "delivered", "read")
_CHUNK = 500


def visit_facts(
    conn: Connection, restaurant_id: int, lo: datetime, hi: datetime
) -> list[VisitFact]:
    r = reservations
    earlier = r.alias("earlier")
    tables = (
        select(func.count()).where(reservation_tables.c.reservation_id == r.c.id).scalar_subquery()
    )
    # A guest belongs to one restaurant (guests.restaurant_id), so the guest alone
    # finds their earlier visits, through ix_reservations_guest_id. With the
    # restaurant named here too, PostgreSQL without statistics on the table (a fresh
    # database) walked the restaurant's whole past for every row instead: 31 ms a day
    # read in bench/booking.py, and growing with the restaurant (auto_explain).
    returning = (
        select(earlier.c.id)
        .where(
            earlier.c.guest_id == r.c.guest_id,
            earlier.c.status.in_(SEATED),
            earlier.c.start_at < r.c.start_at,
        )
        .exists()
    )
    query = select(
        r.c.id,
        r.c.guest_id,
        r.c.party_size,
        r.c.start_at,
        r.c.end_at,
        r.c.status,
        r.c.source,
        r.c.created_by,
        r.c.created_at,
        r.c.updated_at,
        tables.label("table_count"),
        and_(r.c.guest_id.is_not(None), returning).label("came_before"),
    ).where(
        r.c.restaurant_id == restaurant_id,
        r.c.start_at >= lo,
        r.c.start_at < hi,
        r.c.status.not_in(NOT_BOOKINGS),
    )
    return [
        VisitFact(
            id=row.id,
            guest_id=row.guest_id,
            party_size=row.party_size,
            start=row.start_at,
            end=row.end_at,
            status=row.status,
            source=row.source,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            table_count=int(row.table_count or 0),
            returning=bool(row.came_before),
        )
        for row in conn.execute(query)
    ]


def attempt_facts(
    conn: Connection, restaurant_id: int, lo: datetime, hi: datetime
) -> list[AttemptFact]:
    r = reservations
    booked = conn.execute(
        select(r.c.source, r.c.created_at).where(
            r.c.restaurant_id == restaurant_id,
            r.c.created_at >= lo,
            r.c.created_at < hi,
            r.c.status.not_in(NOT_BOOKINGS),
            r.c.source != "walk_in",
        )
    )
    facts = [AttemptFact(str(row.source), False, row.created_at) for row in booked]
    b = booking_refusals
    refused = conn.execute(
        select(b.c.channel, b.c.at).where(
            b.c.restaurant_id == restaurant_id, b.c.at >= lo, b.c.at < hi
        )
    )
    facts += [AttemptFact(str(row.channel), True, row.at) for row in refused]
    return facts


def inbound_facts(
    conn: Connection, restaurant_id: int, lo: datetime, hi: datetime
) -> list[InboundFact]:
    m = channel_messages
    p = m.alias("previous")
    o = m.alias("reply")
    previous = (
        select(func.max(p.c.created_at))
        .where(
            p.c.conversation_id == m.c.conversation_id,
            p.c.direction == "in",
            p.c.id < m.c.id,
        )
        .scalar_subquery()
    )
    first_reply = (
        select(func.min(o.c.id))
        .where(
            o.c.conversation_id == m.c.conversation_id,
            o.c.direction == "out",
            o.c.author == "bot",
            o.c.id > m.c.id,
        )
        .scalar_subquery()
    )
    reply = m.alias("sent")
    query = (
        select(
            m.c.channel,
            m.c.created_at,
            m.c.error_code,
            previous.label("previous_at"),
            conversations.c.guest_id,
            reply.c.processed_at.label("replied_at"),
            reply.c.status.label("reply_status"),
        )
        .select_from(
            m.outerjoin(conversations, conversations.c.id == m.c.conversation_id).outerjoin(
                reply, reply.c.id == first_reply
            )
        )
        .where(
            m.c.restaurant_id == restaurant_id,
            m.c.direction == "in",
            m.c.created_at >= lo,
            m.c.created_at < hi,
        )
    )
    rows = conn.execute(query).all()
    guests = {row.guest_id for row in rows if row.guest_id is not None}
    booked = _bookings_made(conn, restaurant_id, guests, lo, hi + timedelta(hours=24))
    facts = []
    for row in rows:
        answered = row.error_code in (None, "NOT_UNDERSTOOD") and row.reply_status in _SENT
        made = booked.get(row.guest_id, ())
        facts.append(
            InboundFact(
                channel=row.channel,
                created_at=row.created_at,
                previous_at=row.previous_at,
                note=row.error_code,
                replied_at=row.replied_at if answered else None,
                booked_within_day=any(
                    row.created_at <= at < row.created_at + timedelta(hours=24) for at in made
                ),
            )
        )
    return facts


def _bookings_made(
    conn: Connection, restaurant_id: int, guests: Iterable[int], lo: datetime, hi: datetime
) -> dict[int, list[datetime]]:
    wanted = sorted(guests)
    found: dict[int, list[datetime]] = {}
    r = reservations
    for at in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(r.c.guest_id, r.c.created_at).where(
                r.c.restaurant_id == restaurant_id,
                r.c.guest_id.in_(wanted[at : at + _CHUNK]),
                r.c.created_at >= lo,
                r.c.created_at < hi,
                r.c.status.not_in(NOT_BOOKINGS),
                r.c.source != "walk_in",
            )
        )
        for guest_id, created_at in rows:
            found.setdefault(guest_id, []).append(created_at)
    return found


def handoff_facts(
    conn: Connection, restaurant_id: int, lo: datetime, hi: datetime
) -> list[HandoffFact]:
    h = analytics_handoffs
    m = channel_messages
    channel = (
        select(m.c.channel)
        .where(
            m.c.conversation_id == h.c.conversation_id,
            m.c.direction == "in",
            m.c.created_at <= h.c.at,
        )
        .order_by(m.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(h.c.at, channel.label("channel")).where(
            h.c.restaurant_id == restaurant_id, h.c.at >= lo, h.c.at < hi
        )
    )
    return [HandoffFact(row.channel or "", row.at) for row in rows]


def survey_facts(conn: Connection, restaurant_id: int, first: date, last: date) -> list[SurveyFact]:
    s = guest_surveys
    rows = conn.execute(
        select(s.c.day, s.c.service, s.c.channel, s.c.status, s.c.rating).where(
            s.c.restaurant_id == restaurant_id, s.c.day >= first, s.c.day <= last
        )
    )
    return [SurveyFact(row.day, row.service, row.channel, row.status, row.rating) for row in rows]


def record_handoff(
    conn: Connection,
    *,
    event_id: str,
    restaurant_id: int,
    conversation_id: int,
    at: datetime,
    by: str,
) -> None:
    base = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        base(analytics_handoffs)
        .values(
            event_id=event_id,
            restaurant_id=restaurant_id,
            conversation_id=conversation_id,
            at=at,
            by=by,
        )
        .on_conflict_do_nothing()
    )


def record_refusals(conn: Connection, rows: Sequence[RefusalFact]) -> None:
    """Refused attempts, in one statement (a batch: :mod:`saveit.analytics.refusals`)."""
    if rows:
        conn.execute(
            insert(booking_refusals),
            [
                {
                    "restaurant_id": row.restaurant_id,
                    "at": row.at,
                    "channel": row.channel,
                    "code": row.code,
                    "party_size": row.party_size,
                }
                for row in rows
            ],
        )


# --- what an event touched ---------------------------------------------------------------


def later_visits(
    conn: Connection, restaurant_id: int, guest_id: int, after: datetime
) -> list[datetime]:
    """Starts of the guest's bookings after ``after``: whether they are a returning
    guest's depends on a visit before them."""
    r = reservations
    rows = conn.execute(
        select(r.c.start_at).where(
            r.c.restaurant_id == restaurant_id,
            r.c.guest_id == guest_id,
            r.c.start_at > after,
            r.c.status.not_in(NOT_BOOKINGS),
        )
    )
    return [row.start_at for row in rows]


def extent(conn: Connection, restaurant_id: int) -> tuple[datetime, datetime] | None:
    """The earliest and latest instant any fact of the restaurant carries."""
    r = reservations
    m = channel_messages
    bounds: list[Any] = []
    for lo, hi in (
        (func.min(r.c.start_at), func.max(r.c.start_at)),
        (func.min(r.c.created_at), func.max(r.c.created_at)),
    ):
        bounds.extend(conn.execute(select(lo, hi).where(r.c.restaurant_id == restaurant_id)).one())
    bounds.extend(
        conn.execute(
            select(func.min(m.c.created_at), func.max(m.c.created_at)).where(
                m.c.restaurant_id == restaurant_id
            )
        ).one()
    )
    known = [b for b in bounds if b is not None]
    if not known:
        return None
    return min(known), max(known)


def latest_comments(
    conn: Connection, restaurant_id: int, first: date, last: date, limit: int = 5
) -> list[tuple[date, int, str, str]]:
    """``(day, rating, channel, comment)`` of the latest answered surveys with a comment."""
    s = guest_surveys
    rows = conn.execute(
        select(s.c.day, s.c.rating, s.c.channel, s.c.comment)
        .where(
            s.c.restaurant_id == restaurant_id,
            s.c.day >= first,
            s.c.day <= last,
            s.c.rating.is_not(None),
            s.c.comment.is_not(None),
            s.c.comment != "",
        )
        .order_by(s.c.answered_at.desc(), s.c.id.desc())
        .limit(limit)
    )
    return [(r.day, int(r.rating), r.channel, r.comment) for r in rows]
