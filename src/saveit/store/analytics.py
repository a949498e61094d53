"""The analytics counters' SQL: reading one restaurant-day's facts, replacing
that day's counters, and summing them over a range.

A recomputation first upserts its ``analytics_day_state`` row: on PostgreSQL
that row lock queues two recomputations of one day (the second then reads what
the first could not have seen), on SQLite the write transaction is already
exclusive. Everything here filters on ``restaurant_id`` as well, so a scoped
connection and an unscoped one read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from saveit.domain.analytics import (
    FAMILIES,
    AttemptFact,
    Counter,
    HandoffFact,
    InboundFact,
    RefusalFact,
    SurveyFact,
    VisitFact,
)
from saveit.store.analytics_facts import (
    attempt_facts,
    extent,
    handoff_facts,
    inbound_facts,
    later_visits,
    latest_comments,
    record_handoff,
    record_refusals,
    survey_facts,
    visit_facts,
)
from saveit.store.schema import (
    analytics_day_state,
    analytics_days,
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
        select(*keys, cast(func.sum(a.c.value), BigInteger))  # an int, not a Decimal
        .where(a.c.restaurant_id == restaurant_id, a.c.day >= first, a.c.day <= last)
        .group_by(*keys)
    )
    if metrics is not None:
        query = query.where(a.c.metric.in_(list(metrics)))
    if exclude:
        query = query.where(a.c.metric.not_in(list(exclude)))
    rows = _fetch_raw(conn, query)
    if by_day:
        return [(d, m, s, c, x, v) for d, m, s, c, x, v in rows]
    return [(None, m, s, c, x, v) for m, s, c, x, v in rows]


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
        select(*keys, cast(func.sum(a.c.value), BigInteger))
        .where(
            a.c.restaurant_id == restaurant_id,
            a.c.day >= first,
            a.c.day <= last,
            a.c.metric.not_in(_TOTALS_ONLY),
        )
        .group_by(*keys)
    )
    rows = _fetch_raw(conn, query)
    if weekly and conn.dialect.name != "postgresql":  # SQLite answers text
        return [(date.fromisoformat(d), m, "", c, x, v) for d, m, c, x, v in rows]
    return [(d, m, "", c, x, v) for d, m, c, x, v in rows]


def _fetch_raw(conn: Connection, query: Any) -> list[Any]:
    """The rows as the driver's plain tuples: a year of days is ten thousand rows,
    and building a result row object for each costs more than the query (on
    PostgreSQL, whose driver takes the compiled named parameters as they are)."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(query).all())
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), compiled.params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


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

    def record_refusals(self, rows: Sequence[RefusalFact]) -> None:
        record_refusals(self.connection, rows)

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

    def computed_days(self, restaurant_id: int, first: date, last: date) -> set[date]:
        """Days of ``[first, last]`` whose counters were computed for every family."""
        s = analytics_day_state
        rows = self.connection.execute(
            select(s.c.day)
            .where(s.c.restaurant_id == restaurant_id, s.c.day.between(first, last))
            .group_by(s.c.day)
            .having(func.count() >= len(FAMILIES))
        )
        return {row[0] for row in rows}
