"""The analytics counters' SQL: reading one restaurant-day's facts, replacing
that day's counters, and summing them over a range.

A recomputation first upserts its ``analytics_day_state`` row: on PostgreSQL
that row lock queues two recomputations of one day (the second then reads what
the first could not have seen), on SQLite the write transaction is already
exclusive. Everything here filters on ``restaurant_id`` as well, so a scoped
connection and an unscoped one read the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from saveit.domain.analytics import (
    AttemptFact,
    Counter,
    HandoffFact,
    InboundFact,
    SurveyFact,
    VisitFact,
)
from saveit.store.schema import (
    analytics_day_state,
    analytics_days,
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


def lock_day(conn: Connection, restaurant_id: int, day: date, family: str, now: datetime) -> None:
    base = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = base(analytics_day_state).values(
        restaurant_id=restaurant_id, day=day, family=family, computed_at=now
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["restaurant_id", "day", "family"], set_={"computed_at": now}
        )
    )


def replace_day(
    conn: Connection, restaurant_id: int, day: date, family: str, rows: Sequence[Counter]
) -> None:
    conn.execute(
        delete(analytics_days).where(
            analytics_days.c.restaurant_id == restaurant_id,
            analytics_days.c.day == day,
            analytics_days.c.family == family,
        )
    )
    values = [
        {
            "restaurant_id": restaurant_id,
            "day": row.day,
            "family": row.family,
            "metric": row.metric,
            "service": row.service,
            "channel": row.channel,
            "detail": row.detail,
            "value": row.value,
        }
        for row in rows
    ]
    for at in range(0, len(values), _CHUNK):
        conn.execute(insert(analytics_days), values[at : at + _CHUNK])


def replace_range(
    conn: Connection,
    restaurant_id: int,
    first: date,
    last: date,
    families: Sequence[str],
    rows: Sequence[Counter],
    now: datetime,
) -> None:
    """Every counter of ``[first, last]`` at once (a rebuild): the old ones and
    their state rows go, each day and family is marked computed, ``rows`` go in."""
    clear(conn, restaurant_id, first, last)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    states = [
        {"restaurant_id": restaurant_id, "day": day, "family": family, "computed_at": now}
        for day in days
        for family in families
    ]
    for at in range(0, len(states), _CHUNK):
        conn.execute(insert(analytics_day_state), states[at : at + _CHUNK])
    values = [
        {
            "restaurant_id": restaurant_id,
            "day": row.day,
            "family": row.family,
            "metric": row.metric,
            "service": row.service,
            "channel": row.channel,
            "detail": row.detail,
            "value": row.value,
        }
        for row in rows
    ]
    for at in range(0, len(values), _CHUNK * 4):
        conn.execute(insert(analytics_days), values[at : at + _CHUNK * 4])


def bump(conn: Connection, restaurant_id: int, counter: Counter) -> None:
    """Add ``counter.value`` to one counter (made at zero when missing)."""
    base = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = base(analytics_days).values(
        restaurant_id=restaurant_id,
        day=counter.day,
        family=counter.family,
        metric=counter.metric,
        service=counter.service,
        channel=counter.channel,
        detail=counter.detail,
        value=counter.value,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[
                "restaurant_id",
                "day",
                "family",
                "metric",
                "service",
                "channel",
                "detail",
            ],
            set_={"value": analytics_days.c.value + statement.excluded.value},
        )
    )


def clear(conn: Connection, restaurant_id: int, first: date, last: date) -> None:
    """Forget the counters of ``[first, last]`` (before a rebuild)."""
    for table in (analytics_days, analytics_day_state):
        conn.execute(
            delete(table).where(
                table.c.restaurant_id == restaurant_id, table.c.day.between(first, last)
            )
        )


# --- one day's facts ---------------------------------------------------------------------


def visit_facts(
    conn: Connection, restaurant_id: int, lo: datetime, hi: datetime
) -> list[VisitFact]:
    r = reservations
    earlier = r.alias("earlier")
    tables = (
        select(func.count()).where(reservation_tables.c.reservation_id == r.c.id).scalar_subquery()
    )
    returning = (
        select(earlier.c.id)
        .where(
            earlier.c.guest_id == r.c.guest_id,
            earlier.c.restaurant_id == restaurant_id,
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


def record_refusal(
    conn: Connection, *, restaurant_id: int, at: datetime, channel: str, code: str, party_size: int
) -> None:
    conn.execute(
        insert(booking_refusals).values(
            restaurant_id=restaurant_id, at=at, channel=channel, code=code, party_size=party_size
        )
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


# --- reading the counters ----------------------------------------------------------------


def summed(
    conn: Connection,
    restaurant_id: int,
    first: date,
    last: date,
    *,
    by_day: bool,
    metrics: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> list[tuple[date | None, str, str, str, str, int]]:
    """``(day or None, metric, service, channel, detail, total)`` over ``[first, last]``."""
    a = analytics_days
    keys: list[Any] = [a.c.metric, a.c.service, a.c.channel, a.c.detail]
    if by_day:
        keys.insert(0, a.c.day)
    query = (
        select(*keys, func.sum(a.c.value))
        .where(a.c.restaurant_id == restaurant_id, a.c.day >= first, a.c.day <= last)
        .group_by(*keys)
    )
    if metrics is not None:
        query = query.where(a.c.metric.in_(list(metrics)))
    if exclude:
        query = query.where(a.c.metric.not_in(list(exclude)))
    out: list[tuple[date | None, str, str, str, str, int]] = []
    for row in conn.execute(query).all():  # one fetch, not a round of fetchone per row
        if by_day:
            out.append((row[0], row[1], row[2], row[3], row[4], int(row[5])))
        else:
            out.append((None, row[0], row[1], row[2], row[3], int(row[4])))
    return out


_PER_CHANNEL = ("bookings", "covers")
_TOTALS_ONLY = ("lead", "cancel_notice", "heat_seated")


def daily_series(
    conn: Connection, restaurant_id: int, first: date, last: date, *, weekly: bool = False
) -> list[tuple[date | None, str, str, str, str, int]]:
    """Per day, the counters a day's or a week's figures need: bookings and covers
    by channel, everything else summed over services and channels (what per-day
    charts show); the distributions (lead time, notice, heatmap) only in totals.
    A third of the rows :func:`summed` would return per day. ``weekly``: summed per
    ISO week instead, each under its Monday."""
    a = analytics_days
    channel = case((a.c.metric.in_(_PER_CHANNEL), a.c.channel), else_=literal(""))
    day: Any = a.c.day
    if weekly and conn.dialect.name == "postgresql":
        day = cast(func.date_trunc("week", a.c.day), Date)
    elif weekly:
        day = func.date(a.c.day, "weekday 0", "-6 days")
    keys: list[Any] = [day, a.c.metric, channel, a.c.detail]
    query = (
        select(*keys, func.sum(a.c.value))
        .where(
            a.c.restaurant_id == restaurant_id,
            a.c.day >= first,
            a.c.day <= last,
            a.c.metric.not_in(_TOTALS_ONLY),
        )
        .group_by(*keys)
    )
    rows = conn.execute(query).all()
    if weekly and conn.dialect.name != "postgresql":  # SQLite answers text
        return [(date.fromisoformat(r[0]), r[1], "", r[2], r[3], int(r[4])) for r in rows]
    return [(r[0], r[1], "", r[2], r[3], int(r[4])) for r in rows]


def all_counters(conn: Connection, restaurant_id: int) -> list[Counter]:
    a = analytics_days
    rows = conn.execute(
        select(a)
        .where(a.c.restaurant_id == restaurant_id)
        .order_by(a.c.day, a.c.family, a.c.metric, a.c.service, a.c.channel, a.c.detail)
    )
    return [
        Counter(r.day, r.family, r.metric, r.service, r.channel, r.detail, int(r.value))
        for r in rows
    ]


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
            or_(s.c.comment != ""),
        )
        .order_by(s.c.answered_at.desc(), s.c.id.desc())
        .limit(limit)
    )
    return [(r.day, int(r.rating), r.channel, r.comment) for r in rows]


class AnalyticsRepository:
    """The counters and their facts, bound to one unit of work's connection."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock_day(self, restaurant_id: int, day: date, family: str, now: datetime) -> None:
        lock_day(self.connection, restaurant_id, day, family, now)

    def replace_day(
        self, restaurant_id: int, day: date, family: str, rows: Sequence[Counter]
    ) -> None:
        replace_day(self.connection, restaurant_id, day, family, rows)

    def clear(self, restaurant_id: int, first: date, last: date) -> None:
        clear(self.connection, restaurant_id, first, last)

    def bump(self, counter: Counter, restaurant_id: int) -> None:
        bump(self.connection, restaurant_id, counter)

    def replace_range(
        self,
        restaurant_id: int,
        first: date,
        last: date,
        families: Sequence[str],
        rows: Sequence[Counter],
        now: datetime,
    ) -> None:
        replace_range(self.connection, restaurant_id, first, last, families, rows, now)

    def visit_facts(self, restaurant_id: int, lo: datetime, hi: datetime) -> list[VisitFact]:
        return visit_facts(self.connection, restaurant_id, lo, hi)

    def attempt_facts(self, restaurant_id: int, lo: datetime, hi: datetime) -> list[AttemptFact]:
        return attempt_facts(self.connection, restaurant_id, lo, hi)

    def inbound_facts(self, restaurant_id: int, lo: datetime, hi: datetime) -> list[InboundFact]:
        return inbound_facts(self.connection, restaurant_id, lo, hi)

    def handoff_facts(self, restaurant_id: int, lo: datetime, hi: datetime) -> list[HandoffFact]:
        return handoff_facts(self.connection, restaurant_id, lo, hi)

    def survey_facts(self, restaurant_id: int, first: date, last: date) -> list[SurveyFact]:
        return survey_facts(self.connection, restaurant_id, first, last)

    def record_handoff(
        self, *, event_id: str, restaurant_id: int, conversation_id: int, at: datetime, by: str
    ) -> None:
        record_handoff(
            self.connection,
            event_id=event_id,
            restaurant_id=restaurant_id,
            conversation_id=conversation_id,
            at=at,
            by=by,
        )

    def record_refusal(
        self, *, restaurant_id: int, at: datetime, channel: str, code: str, party_size: int
    ) -> None:
        record_refusal(
            self.connection,
            restaurant_id=restaurant_id,
            at=at,
            channel=channel,
            code=code,
            party_size=party_size,
        )

    def later_visits(self, restaurant_id: int, guest_id: int, after: datetime) -> list[datetime]:
        return later_visits(self.connection, restaurant_id, guest_id, after)

    def extent(self, restaurant_id: int) -> tuple[datetime, datetime] | None:
        return extent(self.connection, restaurant_id)

    def summed(
        self,
        restaurant_id: int,
        first: date,
        last: date,
        *,
        by_day: bool,
        metrics: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> list[tuple[date | None, str, str, str, str, int]]:
        return summed(
            self.connection,
            restaurant_id,
            first,
            last,
            by_day=by_day,
            metrics=metrics,
            exclude=exclude,
        )

    def daily_series(
        self, restaurant_id: int, first: date, last: date, *, weekly: bool = False
    ) -> list[tuple[date | None, str, str, str, str, int]]:
        return daily_series(self.connection, restaurant_id, first, last, weekly=weekly)

    def all_counters(self, restaurant_id: int) -> list[Counter]:
        return all_counters(self.connection, restaurant_id)

    def latest_comments(
        self, restaurant_id: int, first: date, last: date, limit: int = 5
    ) -> list[tuple[date, int, str, str]]:
        return latest_comments(self.connection, restaurant_id, first, last, limit)

    def restaurants_with_facts(self) -> list[int]:
        rows = self.connection.execute(select(reservations.c.restaurant_id).distinct())
        return [int(row[0]) for row in rows]

    def computed_days(self, restaurant_id: int, first: date, last: date) -> set[date]:
        """Days of ``[first, last]`` whose counters were computed for every family."""
        s = analytics_day_state
        rows = self.connection.execute(
            select(s.c.day)
            .where(s.c.restaurant_id == restaurant_id, s.c.day.between(first, last))
            .group_by(s.c.day)
            .having(func.count() >= 4)
        )
        return {row[0] for row in rows}
