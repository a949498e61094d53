"""One restaurant-day's counters, from that day's facts: the only place that
decides what is counted where.

The same functions serve the incremental path (the ``analytics`` consumer
recomputes the days an event touched) and the full rebuild, so the two cannot
disagree about a definition — only about which days were recomputed, which the
aggregate test checks.
"""

from __future__ import annotations

import math
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from saveit.domain.analytics import (
    ATTEMPTS,
    MESSAGES,
    SURVEYS,
    VISITS,
    AttemptFact,
    Counter,
    HandoffFact,
    InboundFact,
    SurveyFact,
    VisitFact,
)
from saveit.domain.model import Restaurant
from saveit.domain.schedule import Window, day_of, windows_for

OFF_SERVICE = "other"  # a walk-in seated outside every service
SEATED = frozenset({"checked_in", "completed"})
SESSION_GAP = timedelta(hours=24)  # silence after which a guest's message is a new inquiry
LEAD_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("<1h", timedelta(hours=1)),
    ("1-6h", timedelta(hours=6)),
    ("6-24h", timedelta(hours=24)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
)
LEAD_LAST = "30d+"
NOTICE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("after_start", timedelta(0)),
    ("<2h", timedelta(hours=2)),
    ("2-24h", timedelta(hours=24)),
    ("1-3d", timedelta(days=3)),
)
NOTICE_LAST = "3d+"
REPLY_CAP_S = 3600  # replies slower than an hour share the last bucket


def service_name(window: Window) -> str:
    return window.name or window.opens.strftime("%H:%M")


def service_of(windows: Sequence[Window], start: datetime) -> str:
    for window in windows:
        if window.opens <= start < window.closes:
            return service_name(window)
    return OFF_SERVICE


def origin_of(source: str, created_by: str) -> str:
    """Who made the booking: a walk-in, the guest themselves, or staff for them."""
    if source == "walk_in":
        return "walk_in"
    return "guest" if created_by.startswith("guest:") else "staff"


def _bucket(value: timedelta, buckets: Sequence[tuple[str, timedelta]], last: str) -> str:
    for name, bound in buckets:
        if value < bound:
            return name
    return last


def lead_bucket(created_at: datetime, start: datetime) -> str:
    return _bucket(start - created_at, LEAD_BUCKETS, LEAD_LAST)


def notice_bucket(cancelled_at: datetime, start: datetime) -> str:
    return _bucket(start - cancelled_at, NOTICE_BUCKETS, NOTICE_LAST)


def reply_seconds(stored: datetime, sent: datetime) -> int:
    """Whole seconds, rounded up, capped at :data:`REPLY_CAP_S`."""
    return min(REPLY_CAP_S, max(0, math.ceil((sent - stored).total_seconds())))


def hour_cells(start: datetime, end: datetime, tz: object) -> Iterable[tuple[str, int]]:
    """``("weekday:hour", minutes)`` of ``[start, end)`` in local wall-clock hours
    (Monday = 0): a stay over 20:30–22:00 gives 30 minutes to 20h and 60 to 21h.
    Walked in real time, so a DST night's hours are as long as they really were."""
    at = start
    while at < end:
        local = at.astimezone(tz)  # type: ignore[arg-type]
        step = timedelta(minutes=60 - local.minute, seconds=-local.second)
        upto = min(end, at + step)
        yield f"{local.weekday()}:{local.hour:02d}", int((upto - at).total_seconds() // 60)
        at = upto


class _Counts:
    def __init__(self, day: date, family: str) -> None:
        self.day = day
        self.family = family
        self.tally: Tally[tuple[str, str, str, str]] = Tally()

    def add(self, metric: str, service: str, channel: str, detail: str, value: int = 1) -> None:
        self.tally[(metric, service, channel, detail)] += value

    def rows(self) -> list[Counter]:
        return [
            Counter(self.day, self.family, metric, service, channel, detail, value)
            for (metric, service, channel, detail), value in sorted(self.tally.items())
            if value
        ]


def visit_counters(restaurant: Restaurant, day: date, facts: Iterable[VisitFact]) -> list[Counter]:
    """Bookings of the service day ``day``: who made them, their covers, lead time,
    outcome, cancellation notice, returning guests, seated table-minutes."""
    windows = windows_for(restaurant, day)
    counts = _Counts(day, VISITS)
    for fact in facts:
        if day_of(restaurant, fact.start) != day:
            continue
        service = service_of(windows, fact.start)
        channel = fact.source
        origin = origin_of(fact.source, fact.created_by)
        counts.add("bookings", service, channel, origin)
        if fact.status != "cancelled":
            counts.add("covers", service, channel, origin, fact.party_size)
            if fact.returning:
                counts.add("returning", service, channel, "")
                counts.add("returning_covers", service, channel, "", fact.party_size)
        if origin != "walk_in":
            # The distribution in total only: per service and channel it would be a
            # third of a year's counter rows, and every report sums them.
            counts.add("lead", "", "", lead_bucket(fact.created_at, fact.start))
        if fact.status == "cancelled":
            counts.add("cancelled", service, channel, "")
            counts.add(
                "cancel_notice", service, channel, notice_bucket(fact.updated_at, fact.start)
            )
        elif fact.status == "no_show":
            counts.add("no_show", service, channel, "")
        elif fact.status in SEATED:
            counts.add("seated", service, channel, origin)
            stay = int((fact.end - fact.start).total_seconds() // 60)
            counts.add("table_minutes", service, "", "", stay * fact.table_count)
            for cell, cell_minutes in hour_cells(fact.start, fact.end, restaurant.tz):
                counts.add("heat_seated", "", "", cell, cell_minutes * fact.table_count)
    return counts.rows()


def offered_counters(restaurant: Restaurant, day: date) -> list[Counter]:
    """The table-minutes the day's services offer, per service and per local hour.

    Not stored: they follow from the configuration alone (the services, special
    dates and active tables as they are now), so a report works them out for
    every day of its range, including days nothing happened on."""
    tables = sum(1 for t in restaurant.tables if t.active)
    counts = _Counts(day, VISITS)
    for window in windows_for(restaurant, day):
        minutes = int((window.closes - window.opens).total_seconds() // 60)
        counts.add("available_minutes", service_name(window), "", "", minutes * tables)
        for cell, cell_minutes in hour_cells(window.opens, window.closes, restaurant.tz):
            counts.add("heat_available", "", "", cell, cell_minutes * tables)
    return counts.rows()


def attempt_counters(day: date, facts: Iterable[AttemptFact]) -> list[Counter]:
    counts = _Counts(day, ATTEMPTS)
    for fact in facts:
        counts.add("attempts", "", fact.channel, "refused" if fact.refused else "booked")
    return counts.rows()


def message_counters(
    day: date, inbound: Iterable[InboundFact], handoffs: Iterable[HandoffFact]
) -> list[Counter]:
    """Guests' messages that arrived on ``day``: inquiries (the first message after
    a day's silence) and those that led to a booking within 24 hours, the bot's
    reply times, what it did not understand; and the hand-overs to staff."""
    counts = _Counts(day, MESSAGES)
    for fact in inbound:
        counts.add("inbound", "", fact.channel, "")
        if fact.previous_at is None or fact.created_at - fact.previous_at >= SESSION_GAP:
            counts.add("inquiries", "", fact.channel, "")
            if fact.booked_within_day:
                counts.add("converted", "", fact.channel, "")
        if fact.note == "NOT_UNDERSTOOD":
            counts.add("misunderstood", "", fact.channel, "")
        if fact.replied_at is not None:
            seconds = reply_seconds(fact.created_at, fact.replied_at)
            counts.add("reply", "", fact.channel, str(seconds))
            ms = int((fact.replied_at - fact.created_at).total_seconds() * 1000)
            counts.add("reply_ms", "", fact.channel, "", max(0, ms))
    for handoff in handoffs:
        counts.add("handoffs", "", handoff.channel, "")
    return counts.rows()


def survey_counters(day: date, facts: Iterable[SurveyFact]) -> list[Counter]:
    counts = _Counts(day, SURVEYS)
    for fact in facts:
        status = "skipped" if fact.status.startswith("skipped") else fact.status
        counts.add("surveys", fact.service, fact.channel, status)
        if fact.rating is not None:
            counts.add("rating", fact.service, fact.channel, str(fact.rating))
    return counts.rows()
