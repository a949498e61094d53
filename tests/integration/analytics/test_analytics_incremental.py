"""The counters the ``analytics`` consumer keeps, event by event, equal a full
recomputation from the raw rows after any sequence of bookings, moves,
cancellations, no-shows, visits and survey answers — and handling an event
twice, or late, changes nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from saveit.analytics.runner import GROUP, Coalescing, accepts, consumer
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, ModifyReservation
from saveit.domain.events import Event
from saveit.domain.model import Status
from saveit.store.schema import outbox, processed_events, restaurants
from tests.support import FakeClock, assign_account

MADRID = ZoneInfo("Europe/Madrid")
STAFF = Actor("staff", "ana", "dashboard")
SOURCES = ("web", "whatsapp", "phone", "sms")
STARTS = [time(h, m) for h in (13, 14, 15, 20, 21, 22) for m in (0, 15, 30, 45)]


def _events_after(container: Container, last: int) -> list[Event]:
    with container.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.id > last).order_by(outbox.c.id)).all()
    return [
        Event(
            event_id=row.event_id,
            type=row.type,
            restaurant_id=row.restaurant_id,
            payload=row.payload,
            created_at=row.created_at,
            outbox_id=row.id,
        )
        for row in rows
    ]


@pytest.mark.parametrize(
    ("seed", "coalesced"), [(7, False), (8, False), (13, False), (7, True), (8, True)]
)
def test_counters_kept_by_events_equal_a_full_recomputation(
    container: Container, demo: str, clock: FakeClock, seed: int, coalesced: bool
) -> None:
    """``coalesced``: as the worker runs it, days noted and rebuilt in batches."""
    rnd = random.Random(seed)
    analytics, surveys, booking = container.analytics, container.surveys, container.booking
    coalescing = Coalescing(analytics, period_s=3600.0)
    handle = coalescing.handle if coalesced else analytics.handle
    periods = random.Random(seed)  # apart from ``rnd``: the same sequence either way
    assert analytics is not None
    assert surveys is not None
    assign_account(container, "demo", "sms", "+34910000000", now=clock.now)
    with container.engine.connect() as conn:
        rid = conn.execute(
            select(restaurants.c.id).where(restaurants.c.slug == "demo")
        ).scalar_one()
    guests = [GuestDetails(name=f"G{n}", phone=f"+3460011{n:04d}") for n in range(6)]
    seen = 0
    handled: list[Event] = []

    def drain() -> None:
        nonlocal seen
        for event in _events_after(container, seen):
            seen = event.outbox_id
            if accepts(event.type):
                handle(event)
                handled.append(event)
        if handled and rnd.random() < 0.2:  # an at-least-once bus delivers again
            handle(rnd.choice(handled))
        if periods.random() < 0.3:  # the flusher's period ends
            coalescing.flush()

    codes: list[str] = []
    for _ in range(70):
        clock.advance(minutes=rnd.choice((20, 45, 90, 180, 300)))
        now = clock.now
        action = rnd.random()
        try:
            if action < 0.4 or not codes:
                day = (now + timedelta(days=rnd.randint(0, 2))).astimezone(MADRID).date()
                start = datetime.combine(day, rnd.choice(STARTS), tzinfo=MADRID)
                guest = rnd.choice(guests)
                actor = Actor("guest", "web", "web") if rnd.random() < 0.5 else STAFF
                made = booking.create(
                    CreateReservation(
                        restaurant="demo",
                        start=start,
                        party_size=rnd.randint(1, 7),
                        guest=guest,
                        source="web" if not actor.is_staff else rnd.choice(SOURCES),
                    ),
                    actor,
                )
                codes.append(made.reservation.code)
            else:
                code = rnd.choice(codes)
                view = booking.get(code)
                started = view.start <= now
                if (
                    action < 0.55
                    and not started
                    and view.status
                    in (
                        Status.PENDING,
                        Status.CONFIRMED,
                    )
                ):
                    day = view.start.astimezone(MADRID).date() + timedelta(
                        days=rnd.choice((0, 1, 2))
                    )
                    target = datetime.combine(day, rnd.choice(STARTS), tzinfo=MADRID)
                    booking.modify(ModifyReservation(code=code, start=target), STAFF)
                elif action < 0.65:
                    booking.cancel(code, STAFF)
                elif action < 0.75 and started:
                    booking.no_show(code, STAFF)
                elif action < 0.9 and started:
                    if view.status is not Status.CHECKED_IN:
                        booking.check_in(code, STAFF)
                    if rnd.random() < 0.6:
                        booking.complete(code, STAFF)
                else:
                    for other in rnd.sample(codes, k=min(3, len(codes))):
                        asked = surveys.of_reservation(other)
                        if asked is not None and asked.status == "sent":
                            surveys.answer(asked, rnd.randint(1, 5), rnd.choice(("", "ok")))
        except errors.DomainError:
            pass  # refused: the refusal is a fact the counters keep too
        surveys.send_due()  # as the scheduler does on every tick
        drain()
    drain()
    coalescing.flush()
    analytics.refusals.flush()  # the refusals are written a moment later, many at once
    kept = analytics_rows(container, rid)
    assert any(r.metric == "attempts" for r in kept)
    assert any(r.family == "surveys" for r in kept), "the sequence should reach a survey"
    assert any(r.metric == "no_show" for r in kept)
    assert any(r.metric == "returning" for r in kept)
    analytics.rebuild(rid)
    assert analytics_rows(container, rid) == kept


def analytics_rows(container: Container, rid: int) -> list[object]:
    assert container.analytics is not None
    with container.analytics.db.reading() as r:
        return list(r.analytics.all_counters(rid))


def book_pairs(container: Container, clock: FakeClock, count: int, at: time, tag: str) -> None:
    """``count`` phone bookings for two, tomorrow at ``at``, each by its own guest."""
    day = (clock.now + timedelta(days=1)).astimezone(MADRID).date()
    for n in range(count):
        container.booking.create(
            CreateReservation(
                restaurant="demo",
                start=datetime.combine(day, at, tzinfo=MADRID),
                party_size=2,
                guest=GuestDetails(name=f"G{tag}{n}", phone=f"+34600{tag}{n:04d}"),
                source="phone",
            ),
            STAFF,
        )


def test_days_never_touched_are_computed_on_demand(container: Container, demo: str) -> None:
    assert container.analytics is not None
    first = datetime(2026, 5, 1, tzinfo=UTC).date()
    rid, missing = container.analytics.missing_days("demo", first, first + timedelta(days=9))
    assert len(missing) == 10
    container.analytics.fill(rid, missing)
    assert container.analytics.missing_days("demo", first, first + timedelta(days=9))[1] == []


def test_a_busy_day_is_rebuilt_once_per_period_not_once_per_event(
    container: Container, demo: str, clock: FakeClock
) -> None:
    analytics = container.analytics
    coalescing = Coalescing(analytics, period_s=3600.0)
    book_pairs(container, clock, 6, time(20, 0), "22")  # the six tables that seat two
    events = [e for e in _events_after(container, 0) if accepts(e.type)]
    assert len(events) == 6
    for event in events:
        coalescing.handle(event)
    with container.engine.connect() as conn:
        rid = conn.execute(
            select(restaurants.c.id).where(restaurants.c.slug == "demo")
        ).scalar_one()
    assert analytics_rows(container, rid) == []  # noted, not yet rebuilt
    # visits on the booked day; attempts and messages on the day they were made
    # (and the messages of the day before): four rebuilds for six events
    assert coalescing.flush() == 4
    kept = analytics_rows(container, rid)
    analytics.rebuild(rid)
    assert analytics_rows(container, rid) == kept
    assert coalescing.flush() == 0


def test_the_group_handles_a_republished_stream_again_and_keeps_the_same_counters(
    container: Container, demo: str, clock: FakeClock
) -> None:
    """The group remembers what it handled in memory only, since handling is
    idempotent: after a relay republished its events (at least once) to a
    restarted worker, they are handled again, the counters come out the same,
    and no ``processed_events`` row is ever written for the group."""
    analytics = container.analytics
    assert analytics is not None
    book_pairs(container, clock, 3, time(21, 0), "33")
    container.relay.publish_pending()
    with container.engine.connect() as conn:
        rid = conn.execute(
            select(restaurants.c.id).where(restaurants.c.slug == "demo")
        ).scalar_one()
    counted: list[list[object]] = []
    for attempt in range(2):  # the first worker; a restarted one, after a republish
        if attempt:
            container.bus.publish(_events_after(container, 0))
        coalescing = Coalescing(analytics, period_s=3600.0)
        worker = consumer(container.bus, coalescing.handle, analytics)
        assert worker.poll_once(block_ms=0).handled >= 3
        coalescing.flush()
        counted.append(analytics_rows(container, rid))
    assert counted[0]
    assert counted[0] == counted[1]
    with container.engine.connect() as conn:
        kept = conn.execute(
            select(processed_events.c.event_id).where(processed_events.c.consumer == GROUP)
        ).all()
    assert kept == []
