"""A guest's miss fills the days of its week that can be booked (saveit.cache.week):
the neighbouring days a guest asks for next are hits, each answering exactly as
the database does for that day alone, and nothing outside the week or the
booking horizon is stored."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from saveit.bootstrap import Container
from saveit.cache import MemoryStore, NearCache, RedisStore
from saveit.cache.week import week_of
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.resilience import CircuitBreaker, RedisGate
from tests.e2e.chaos_support import delete_prefix
from tests.integration.cache.support import read
from tests.support import FakeClock

WEDNESDAY = date(2026, 6, 3)  # the clock's today is Monday 2026-06-01


def _days(month: int, *days: int) -> list[date]:
    return [date(2026, month, d) for d in days]


def test_the_week_is_monday_to_sunday_within_today_and_the_horizon() -> None:
    today = date(2026, 6, 3)  # a Wednesday: the Monday and Tuesday before are gone
    assert week_of(date(2026, 6, 5), today, 60) == _days(6, 5, 3, 4, 6, 7)
    # A horizon that ends on Friday 3 July: that week stops there.
    assert week_of(date(2026, 7, 1), today, 30) == [
        *_days(7, 1),
        *_days(6, 29, 30),
        *_days(7, 2, 3),
    ]
    assert week_of(today - timedelta(days=1), today, 60) == [today - timedelta(days=1)]
    assert week_of(date(2026, 7, 4), today, 30) == [date(2026, 7, 4)]  # beyond the horizon


def test_a_guests_miss_makes_the_rest_of_its_week_hits(api: TestClient) -> None:
    assert read(api, party=2, day="2026-06-03")[1] == "miss"
    for day in ("2026-06-01", "2026-06-02", "2026-06-04", "2026-06-05", "2026-06-07"):
        for party in (2, 5):
            assert read(api, party=party, day=day)[1] == "hit", (day, party)
    assert read(api, party=2, day="2026-06-08")[1] == "miss"  # next Monday: another week


def test_staff_and_area_reads_fill_their_own_day_only(api: TestClient, cached: Container) -> None:
    cache = cached.availability
    assert cache is not None
    assert cache.read("demo", WEDNESDAY, 2, area="terrace", staff=False)[1] == "miss"
    assert cache.read("demo", WEDNESDAY, 2, area=None, staff=True)[1] == "miss"
    thursday = WEDNESDAY + timedelta(days=1)
    assert cache.read("demo", thursday, 2, area="terrace", staff=False)[1] == "miss"
    assert cache.read("demo", thursday, 2, area=None, staff=True)[1] == "miss"


def test_each_filled_day_answers_as_the_database_does_for_that_day_alone(
    cached: Container, clock: FakeClock
) -> None:
    """The week's bookings are read once for every day: a booking on one day must
    take its table on that day only, and each size on each day must list exactly
    the starts computed for it alone — before and after the week changes."""
    cache = cached.availability
    assert cache is not None
    tz = cached.booking.restaurant("demo").tz
    week = [date(2026, 6, 1) + timedelta(days=i) for i in range(7)]

    def book(day: date, hour: int, party: int, phone: str) -> None:
        start = datetime(day.year, day.month, day.day, hour, 0, tzinfo=tz).astimezone(UTC)
        cached.booking.create(
            CreateReservation("demo", start, party, GuestDetails("Ana", phone=phone)),
            Actor("guest", "web"),
        )

    book(week[3], 21, 8, "600111220")  # Thursday's only table for eight, at nine
    book(week[4], 13, 4, "600111221")
    book(week[6], 22, 6, "600111222")
    for round_ in range(2):
        assert cache.read("demo", week[2], 3, area=None, staff=False)[1] == "miss"
        for day in week:
            for party in range(1, 9):
                body, how = cache.read("demo", day, party, area=None, staff=False)
                assert how == "hit", (day, party)
                _, slots = cached.booking.availability("demo", day, party)
                expected = [s.start.astimezone(tz).strftime("%H:%M") for s in slots]
                assert [s["time"] for s in json.loads(body)["slots"]] == expected, (day, party)
                assert json.loads(body)["date"] == day.isoformat()
        eights = json.loads(cache.read("demo", week[3], 8, area=None, staff=False)[0])["slots"]
        assert "21:00" not in [s["time"] for s in eights]
        wednesday = json.loads(cache.read("demo", week[2], 8, area=None, staff=False)[0])
        assert "21:00" in [s["time"] for s in wednesday["slots"]]
        book(week[round_], 20, 2, f"60011133{round_}")  # a day changes: it is read again
        cache.invalidate(cached.booking.restaurant("demo").id, week)  # as the stream would


def test_several_buckets_are_read_and_stored_in_one_call_under_their_generations(
    cached: Container,
) -> None:
    """``get_many``/``put_many``: each bucket keeps its own generation guard, so a
    day that a booking invalidated while its week was computed is refused alone."""
    cache = cached.availability
    assert cache is not None
    store = cache.store
    assert isinstance(store, MemoryStore | NearCache)
    buckets = ["1:2026-06-03", "1:2026-06-04", "1:2026-06-05"]
    held = store.get_many(buckets, "k")
    assert [value for value, _ in held] == [None, None, None]
    store.invalidate([buckets[1]])  # a booking on Thursday, committed meanwhile
    puts = [
        (b, [("k", f"v{i}".encode())], gen)
        for i, (b, (_, gen)) in enumerate(zip(buckets, held, strict=True))
    ]
    assert store.put_many(puts, 30.0) == [True, False, True]
    assert [value for value, _ in store.get_many(buckets, "k")] == [b"v0", None, b"v2"]
    if isinstance(store, NearCache):
        assert [store.shared.get(b, "k")[0] for b in buckets] == [b"v0", None, b"v2"]


def test_a_script_redis_forgot_is_loaded_again(redis_url: str) -> None:
    """Redis restarted (or ran ``SCRIPT FLUSH``): the pipelined ``EVALSHA`` of a
    week's put fails with NOSCRIPT, and each bucket is stored through the script
    loaded again rather than lost."""
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    gate = RedisGate(redis_url, breaker=CircuitBreaker("t"))
    try:
        store = RedisStore(gate, prefix)
        gate.client.script_flush()
        buckets = ["1:2026-06-10", "1:2026-06-11"]
        held = store.get_many(buckets, "k")
        puts = [(b, [("k", b"v")], g) for b, (_, g) in zip(buckets, held, strict=True)]
        assert store.put_many(puts, 30) == [True, True]
        assert [store.get(b, "k")[0] for b in buckets] == [b"v", b"v"]
    finally:
        delete_prefix(redis_url, prefix)
        gate.close()
