"""The analytics service: keeps the per-day counters current and answers reports.

A counter row belongs to one restaurant, one day and one *family* of facts
(:mod:`saveit.domain.analytics`). An event names what changed; :meth:`touched`
turns it into the (family, day) pairs whose counters it may have changed, and
:meth:`recompute` rebuilds each pair from the raw rows of that one day. That is
the incremental method: a report then sums at most a row per counter and day
instead of scanning a year of bookings and messages, and since a day is always
rebuilt whole, an event handled twice or out of order leaves the same counters
(the consumer's ``processed_events`` record also skips the second copy).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from saveit.analytics import daily, report
from saveit.analytics.refusals import RefusalLog
from saveit.domain import errors, events
from saveit.domain.analytics import (
    ATTEMPTS,
    FAMILIES,
    MESSAGES,
    SURVEYS,
    VISITS,
    AttemptFact,
    Counter,
    HandoffFact,
    InboundFact,
    RefusalFact,
    SurveyFact,
    VisitFact,
)
from saveit.domain.commands import Actor, CreateReservation
from saveit.domain.errors import ValidationFailed
from saveit.domain.model import Restaurant
from saveit.domain.schedule import day_of
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger(__name__)

SURVEY_SENT = "survey.sent"
SURVEY_ANSWERED = "survey.answered"
SURVEY_SKIPPED = "survey.skipped"
SURVEY_EVENTS = frozenset({SURVEY_SENT, SURVEY_ANSWERED, SURVEY_SKIPPED})
_MESSAGE_EVENTS = frozenset({events.MESSAGE_RECEIVED, events.MESSAGE_SENT, events.MESSAGE_FAILED})
_MADE = frozenset({events.RESERVATION_CREATED, events.RESERVATION_WALK_IN})
_SEATING = frozenset(
    {events.RESERVATION_CHECKED_IN, events.RESERVATION_COMPLETED, events.RESERVATION_WALK_IN}
)
# Refusals that count as failed booking attempts: no table, or a booking rule. Bad
# input, unknown restaurants and permission errors are no attempt at a booking.
COUNTED_REFUSALS = frozenset(
    {
        "SLOT_TAKEN",
        "NO_SUITABLE_TABLE",
        "OUTSIDE_OPENING_HOURS",
        "PARTY_TOO_LARGE",
        "TOO_SOON",
        "TOO_FAR_AHEAD",
    }
)
MAX_RANGE_DAYS = 3 * 366
Touched = set[tuple[str, date]]
Progress = Callable[[int, int], None]  # (done, total)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def day_bounds(restaurant: Restaurant, day: date) -> tuple[datetime, datetime]:
    """Local midnight to local midnight, in UTC (23 or 25 hours on a DST day)."""
    tz = restaurant.tz
    lo = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return lo, hi


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Analytics:
    def __init__(
        self,
        db: Database | DatabaseLike,
        *,
        clock: Callable[[], datetime] = _utc_now,
        restaurants: Callable[[str], Restaurant] | None = None,
    ) -> None:
        self.db = database_of(db)
        self.clock = clock
        # Where a report finds the restaurant's configuration: the booking engine's
        # cache in the app (it notices a changed configuration); None: read it.
        self.restaurants = restaurants
        self._zones: dict[int, ZoneInfo] = {}
        self._slugs: dict[int, str] = {}
        self._offered_for: Restaurant | None = None
        self._offered: dict[date, list[Counter]] = {}
        self._offered_lock = threading.Lock()
        self.refusals = RefusalLog(self.db, clock=clock)

    # --- keeping the counters --------------------------------------------------------------

    def restaurant(self, restaurant_id: int) -> Restaurant:
        """The configuration an event's restaurant has now. In the app it comes from
        the booking engine's cache, by the slug this process learnt once: loading
        it whole for every event cost the worker a sixth of its CPU on the bot bench."""
        if self.restaurants is None:
            with self.db.reading() as r:
                return r.restaurants.load(restaurant_id)
        slug = self._slugs.get(restaurant_id)
        if slug is not None:
            try:
                return self.restaurants(slug)
            except errors.NotFound:  # renamed since: learn the slug again
                pass
        with self.db.reading() as r:
            _, slug = r.restaurants.name_and_slug(restaurant_id)
        self._slugs[restaurant_id] = slug
        return self.restaurants(slug)

    def recompute(self, restaurant: Restaurant, day: date, family: str) -> None:
        """Rebuild one (restaurant, day, family)'s counters from that day's rows."""
        lo, hi = day_bounds(restaurant, day)
        rid = restaurant.id
        with self.db.unit_of_work() as uow:
            repo = uow.analytics
            repo.lock_day(rid, day, family, self.clock())
            if family == VISITS:
                # A late service's after-midnight starts belong to the day it opened.
                facts = repo.visit_facts(rid, lo, hi + timedelta(hours=12))
                rows = daily.visit_counters(restaurant, day, facts)
            elif family == ATTEMPTS:
                rows = daily.attempt_counters(day, repo.attempt_facts(rid, lo, hi))
            elif family == MESSAGES:
                rows = daily.message_counters(
                    day, repo.inbound_facts(rid, lo, hi), repo.handoff_facts(rid, lo, hi)
                )
            elif family == SURVEYS:
                rows = daily.survey_counters(day, repo.survey_facts(rid, day, day))
            else:
                raise ValueError(f"unknown family {family!r}")
            repo.replace_day(rid, day, family, rows)

    def recompute_all(self, restaurant: Restaurant, touched: Iterable[tuple[str, date]]) -> None:
        for family, day in sorted(touched):
            self.recompute(restaurant, day, family)

    def touched(self, restaurant: Restaurant, event: events.Event) -> Touched:
        """The (family, day) pairs whose counters ``event`` may have changed."""
        found: Touched = set()
        made_on = event.created_at.astimezone(restaurant.tz).date()
        payload: Mapping[str, Any] = event.payload
        if event.type.startswith("reservation."):
            shown = payload.get("reservation")
            if not isinstance(shown, Mapping):
                return found
            starts = [datetime.fromisoformat(str(shown["start"]))]
            before = payload.get("before")
            if isinstance(before, Mapping) and "start" in before:
                starts.append(datetime.fromisoformat(str(before["start"])))
            found |= {(VISITS, day_of(restaurant, s)) for s in starts}
            if event.type in _MADE:
                found |= {(ATTEMPTS, made_on), (MESSAGES, made_on)}
                found.add((MESSAGES, made_on - timedelta(days=1)))  # inquiries it converted
            if event.type in _SEATING and shown.get("guest_id") is not None:
                with self.db.reading() as r:
                    later = r.analytics.later_visits(
                        restaurant.id, int(shown["guest_id"]), starts[0]
                    )
                found |= {(VISITS, day_of(restaurant, s)) for s in later}
        elif event.type in _MESSAGE_EVENTS or event.type == events.CONVERSATION_HANDED_OFF:
            found |= {(MESSAGES, made_on), (MESSAGES, made_on - timedelta(days=1))}
        elif event.type in SURVEY_EVENTS and isinstance(payload.get("survey"), Mapping):
            found.add((SURVEYS, date.fromisoformat(str(payload["survey"]["day"]))))
        return found

    def handle(self, event: events.Event) -> None:
        """Recompute what ``event`` touched, now (the worker coalesces instead, see
        :class:`saveit.analytics.runner.Coalescing`)."""
        absorbed = self.absorb(event)
        if absorbed is not None:
            self.recompute_all(*absorbed)

    def absorb(self, event: events.Event) -> tuple[Restaurant, Touched] | None:
        """Record what only the event itself tells (a handoff), and name the
        (family, day) pairs it touched; None when it changes no figure."""
        if event.type == events.CONVERSATION_HANDED_OFF:
            if not event.payload.get("active"):
                return None
            with self.db.unit_of_work() as uow:
                uow.analytics.record_handoff(
                    event_id=event.event_id,
                    restaurant_id=event.restaurant_id,
                    conversation_id=int(event.payload["conversation_id"]),
                    at=event.created_at,
                    by=str(event.payload.get("by", "")),
                )
        restaurant = self.restaurant(event.restaurant_id)
        return restaurant, self.touched(restaurant, event)

    def booking_refused(self, cmd: CreateReservation, actor: Actor, code: str) -> None:
        """The booking engine's refusal listener (never raises into the booking).
        The refusal is written a moment later with others (:mod:`.refusals`)."""
        if code not in COUNTED_REFUSALS:
            return
        try:
            if self.restaurants is not None:  # the engine just read it: from its cache
                restaurant_id = self.restaurants(cmd.restaurant).id
            else:
                with self.db.reading() as r:
                    restaurant_id = r.restaurants.id_of(cmd.restaurant)
            now = self.clock()
            self.refusals.add(
                RefusalFact(
                    restaurant_id=restaurant_id,
                    day=now.astimezone(self._zone(restaurant_id)).date(),
                    at=now,
                    channel=cmd.source,
                    code=code,
                    party_size=cmd.party_size,
                )
            )
        except Exception:
            log.exception("analytics: recording a refused booking failed")

    def _zone(self, restaurant_id: int) -> ZoneInfo:
        found = self._zones.get(restaurant_id)
        if found is None:
            found = self._zones[restaurant_id] = self.restaurant(restaurant_id).tz
        return found

    def rebuild(
        self,
        restaurant_id: int,
        first: date | None = None,
        last: date | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        """Recompute every counter of ``[first, last]`` (default: all the restaurant's
        days) from the raw rows; returns how many days were computed.

        Unlike the consumer's day-by-day path, the facts are read for the whole
        range at once (a handful of queries per month) and sorted into days here:
        a second way to the same counters, which the aggregate test holds equal."""
        self.refusals.flush()
        restaurant = self.restaurant(restaurant_id)
        if first is None or last is None:
            with self.db.reading() as r:
                extent = r.analytics.extent(restaurant_id)
            if extent is None:
                return 0
            lo = extent[0].astimezone(restaurant.tz).date() - timedelta(days=1)
            hi = extent[1].astimezone(restaurant.tz).date() + timedelta(days=1)
            first, last = first or lo, last or hi
        total = (last - first).days + 1
        for start in _days(first, last)[::31]:  # a month of facts in memory at a time
            end = min(last, start + timedelta(days=30))
            self._rebuild_range(restaurant, start, end)
            if progress is not None:
                progress((end - first).days + 1, total)
        return total

    def _rebuild_range(self, restaurant: Restaurant, first: date, last: date) -> None:
        rid = restaurant.id
        lo, hi = day_bounds(restaurant, first)[0], day_bounds(restaurant, last)[1]
        tz = restaurant.tz
        rows: list[Counter] = []
        with self.db.reading() as r:
            repo = r.analytics
            visits: dict[date, list[VisitFact]] = defaultdict(list)
            for fact in repo.visit_facts(rid, lo, hi + timedelta(hours=12)):
                visits[day_of(restaurant, fact.start)].append(fact)
            attempts: dict[date, list[AttemptFact]] = defaultdict(list)
            for attempt in repo.attempt_facts(rid, lo, hi):
                attempts[attempt.at.astimezone(tz).date()].append(attempt)
            inbound: dict[date, list[InboundFact]] = defaultdict(list)
            for message in repo.inbound_facts(rid, lo, hi):
                inbound[message.created_at.astimezone(tz).date()].append(message)
            handoffs: dict[date, list[HandoffFact]] = defaultdict(list)
            for handoff in repo.handoff_facts(rid, lo, hi):
                handoffs[handoff.at.astimezone(tz).date()].append(handoff)
            surveys: dict[date, list[SurveyFact]] = defaultdict(list)
            for survey in repo.survey_facts(rid, first, last):
                surveys[survey.day].append(survey)
        for day in _days(first, last):
            rows += daily.visit_counters(restaurant, day, visits.get(day, ()))
            rows += daily.attempt_counters(day, attempts.get(day, ()))
            rows += daily.message_counters(day, inbound.get(day, ()), handoffs.get(day, ()))
            rows += daily.survey_counters(day, surveys.get(day, ()))
        with self.db.unit_of_work() as uow:
            uow.analytics.replace_range(rid, first, last, FAMILIES, rows, self.clock())

    # --- reading them ----------------------------------------------------------------------

    def report(
        self, slug: str, first: date, last: date, group: report.Group = "total"
    ) -> report.Report:
        if last < first:
            raise ValidationFailed("'to' is before 'from'")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise ValidationFailed(f"a report covers at most {MAX_RANGE_DAYS} days")
        self.refusals.flush()  # this process's own refusals are in its figures
        with self.db.tolerant_reading() as r:
            if self.restaurants is not None:
                restaurant = self.restaurants(slug)
            else:
                restaurant = r.restaurants.load(r.restaurants.id_of(slug))
            rid = restaurant.id
            total_rows = r.analytics.summed(rid, first, last, by_day=False)
            by_day = []
            if group in ("day", "week"):
                by_day = r.analytics.daily_series(rid, first, last, weekly=group == "week")
            comments = r.analytics.latest_comments(rid, first, last)
        offered = [c for day in _days(first, last) for c in self._offered_on(restaurant, day)]
        total_rows += [(None, c.metric, c.service, c.channel, c.detail, c.value) for c in offered]
        groups: list[report.GroupFigures] = []
        if group in ("day", "week"):
            by_day += [
                (c.day, c.metric, "", c.channel, c.detail, c.value)
                for c in offered
                if c.metric != "heat_available"
            ]
            groups = report.grouped(by_day, group)
        elif group in ("service", "channel"):
            groups = report.grouped(
                [row for row in total_rows if not row[1].startswith("heat_")], group
            )
        rows = [row[1:] for row in total_rows]
        return report.Report(
            restaurant=restaurant.slug,
            timezone=restaurant.timezone,
            from_=first,
            to=last,
            group=group,
            total=report.figures(rows),
            heatmap=report.heatmap(rows),
            latest_comments=[
                report.Comment(day=d, rating=rating, channel=channel, comment=text)
                for d, rating, channel, text in comments
            ],
            groups=groups,
            definitions=report.DEFINITIONS,
        )

    def today(self, slug: str) -> date:
        """The restaurant's local date now: where a range that names no days ends."""
        if self.restaurants is not None:
            tz = self.restaurants(slug).tz
        else:
            with self.db.reading() as r:
                tz = r.restaurants.load(r.restaurants.id_of(slug)).tz
        return self.clock().astimezone(tz).date()

    def _offered_on(self, restaurant: Restaurant, day: date) -> list[Counter]:
        """:func:`daily.offered_counters`, remembered while the configuration is the same."""
        with self._offered_lock:
            if restaurant is not self._offered_for or len(self._offered) > 5000:
                self._offered_for, self._offered = restaurant, {}
            found = self._offered.get(day)
            if found is None:
                found = self._offered[day] = daily.offered_counters(restaurant, day)
            return found

    def missing_days(self, slug: str, first: date, last: date) -> tuple[int, list[date]]:
        """The restaurant's id, and the days of ``[first, last]`` (up to today) whose
        counters were never computed (no event touched them since analytics began)."""
        with self.db.reading() as r:
            rid = r.restaurants.id_of(slug)
            computed = r.analytics.computed_days(rid, first, last)
            today = self.clock().astimezone(r.restaurants.load(rid).tz).date()
        return rid, [d for d in _days(first, min(last, today)) if d not in computed]

    def fill(self, restaurant_id: int, days: list[date], progress: Progress | None = None) -> None:
        restaurant = self.restaurant(restaurant_id)
        for done, day in enumerate(days, start=1):
            for family in FAMILIES:
                self.recompute(restaurant, day, family)
            if progress is not None:
                progress(done, len(days))
