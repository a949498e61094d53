"""The availability cache in one process: hits, invalidation by writes, config edits
and time, on both stores (process memory and a real Redis), and the generation
guard that keeps a read racing a booking from caching a stale answer."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.bootstrap import Container, build
from saveit.cache import MemoryStore, NearCache, RedisStore
from saveit.cache.occupancy import OCCUPANCY_TTL_S
from saveit.config import Settings
from saveit.resilience import CircuitBreaker, RedisGate, RedisUnavailable
from tests.conftest import ADMIN_TOKEN
from tests.integration.cache.support import DAY, book, read
from tests.support import FakeClock

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_a_second_read_is_a_hit_with_the_same_answer(api: TestClient) -> None:
    first, how = read(api)
    assert how == "miss"
    again, how = read(api)
    assert (again, how) == (first, "hit")
    assert "21:00" in first


def test_a_booking_invalidates_its_day_at_once_and_only_its_day(api: TestClient) -> None:
    before, _ = read(api, party=8)
    other_day, _ = read(api, party=8, day="2026-06-04")
    assert "21:00" in before
    book(api, "21:00")  # party of 8 takes the only table for 8 (T4+T5)
    after, how = read(api, party=8)
    assert how == "miss"
    assert "21:00" not in after
    assert read(api, party=8, day="2026-06-04") == (other_day, "hit")


def test_a_move_invalidates_the_old_day_and_the_new_one(api: TestClient) -> None:
    made = book(api, "21:00")
    code, token = made["reservation"]["code"], made["manage_token"]
    assert "21:00" not in read(api, party=8)[0]
    assert "21:00" in read(api, party=8, day="2026-06-04")[0]
    moved = api.patch(
        f"/v1/reservations/{code}",
        json={"date": "2026-06-04", "time": "21:00"},
        headers={"X-Manage-Token": token},
    )
    assert moved.status_code == 200, moved.text
    assert "21:00" in read(api, party=8)[0]
    assert "21:00" not in read(api, party=8, day="2026-06-04")[0]


def test_a_cancellation_gives_the_slot_back(api: TestClient) -> None:
    made = book(api, "21:00")
    assert "21:00" not in read(api, party=8)[0]
    cancelled = api.post(
        f"/v1/reservations/{made['reservation']['code']}/cancel",
        headers={"X-Manage-Token": made["manage_token"]},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert "21:00" in read(api, party=8)[0]


def test_a_config_edit_changes_the_key(api: TestClient) -> None:
    assert "13:00" in read(api)[0]
    closed = api.put(
        f"/v1/restaurants/demo/special-dates/{DAY}",
        json={"closed": True, "note": "private event"},
        headers=ADMIN,
    )
    assert closed.status_code in {200, 201, 204}, closed.text
    assert read(api) == ([], "miss")


def test_cached_starts_are_filtered_by_the_current_time(api: TestClient, clock: FakeClock) -> None:
    clock.now = clock.now.replace(month=6, day=3, hour=10, minute=0)  # 12:00 in Madrid
    first, _ = read(api)
    assert "13:00" in first
    clock.advance(minutes=15)  # 12:15 local: the 60-minute lead time now excludes 13:00
    later, how = read(api)
    assert how == "hit"
    assert "13:00" not in later
    assert "13:15" in later


def test_staff_and_public_answers_are_cached_apart(api: TestClient, clock: FakeClock) -> None:
    clock.now = clock.now.replace(month=6, day=3, hour=10, minute=30)  # 12:30 local
    public, _ = read(api)
    staff, _ = read(api, Authorization=f"Bearer {ADMIN_TOKEN}")
    assert "13:00" not in public  # inside the lead time
    assert "13:00" in staff  # staff are not held to it


def test_the_generation_guard_refuses_a_put_that_raced_an_invalidation(
    cached: Container,
) -> None:
    assert cached.availability is not None
    store = cached.availability.store
    assert isinstance(store, MemoryStore | RedisStore | NearCache)
    _, generation = store.get("1:2026-06-03", "k")
    store.invalidate(["1:2026-06-03"])  # a booking committed while we read the database
    assert store.put("1:2026-06-03", [("k", b"stale")], generation, 30) is False
    assert store.get("1:2026-06-03", "k")[0] is None
    _, fresh = store.get("1:2026-06-03", "k")
    assert store.put("1:2026-06-03", [("k", b"fresh")], fresh, 30) is True
    assert store.get("1:2026-06-03", "k")[0] == b"fresh"


def test_entries_expire_after_the_ttl(redis_url: str) -> None:
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    gate = RedisGate(redis_url, breaker=CircuitBreaker("t"))
    try:
        store = RedisStore(gate, prefix)
        assert store.put("b", [("k", b"v")], "0", 0.05)
        assert store.get("b", "k")[0] == b"v"
        memory = MemoryStore(clock=iter([0.0, 0.0, 1.0]).__next__)
        assert memory.put("b", [("k", b"v")], "0", 0.5)
        assert memory.get("b", "k")[0] == b"v"
        assert memory.get("b", "k")[0] is None
    finally:
        gate.client.delete(f"{prefix}:avail:{{b}}")
        gate.close()


@pytest.mark.parametrize(
    ("age_s", "trouble", "redis_dropped"),
    [(0.1, False, False), (5.0, False, True), (0.1, True, True)],
    ids=["prompt-event", "late-event", "after-redis-trouble"],
)
def test_an_event_heard_drops_redis_only_when_the_writer_may_have_missed_it(
    settings: Settings,
    clock: FakeClock,
    redis_url: str,
    age_s: float,
    trouble: bool,
    redis_dropped: bool,
) -> None:
    """Every process hears every booking. A prompt event only clears this process's
    near copy (the writer cleared Redis after its commit); a late one, or one heard
    after Redis failed this process, clears Redis too, in case the writer could not."""
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    update: dict[str, Any] = {
        "redis_url": SecretStr(redis_url),
        "redis_prefix": prefix,
        "events_stream": f"{prefix}:events",
    }
    container = build(settings.model_copy(update=update), clock=clock, migrate=False)
    try:
        cache = container.availability
        assert cache is not None
        store = cache.store
        assert isinstance(store, NearCache)
        store.put("1:2026-06-03", [("k", b"cached")], "0|0", 30.0)
        if trouble:
            with pytest.raises(RedisUnavailable):
                store.shared.gate.run(
                    lambda _client: (_ for _ in ()).throw(redis.ConnectionError())
                )
        cache.invalidate_heard(1, [date(2026, 6, 3)], age_s)

        assert store.local.get("1:2026-06-03", "k")[0] is None
        in_redis = store.shared.get("1:2026-06-03", "k")[0]
        assert (in_redis is None) is redis_dropped
    finally:
        container.close()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_the_party_sizes_of_a_day_share_one_read_of_its_bookings_until_it_changes(
    api: TestClient, cached: Container
) -> None:
    from sqlalchemy import event

    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "table_claims" in statement or "reservation_tables" in statement:
            reads.append(statement)

    event.listen(cached.engine, "before_cursor_execute", count)
    try:
        assert read(api, party=2)[1] == "miss"
        first = len(reads)
        assert first >= 1
        assert read(api, party=4)[1] == "hit"  # the first miss filled the day's sizes
        assert read(api, party=6)[1] == "hit"
        assert len(reads) == first
        book(api, "21:00", party=2)
        before = len(reads)
        after_booking, how = read(api, party=4)
        assert how == "miss"
        assert len(reads) > before  # the day changed: its bookings are read again
    finally:
        event.remove(cached.engine, "before_cursor_execute", count)
    assert "21:00" in after_booking  # party 4 still has a table at 21:00


def test_the_sizes_a_miss_fills_answer_as_the_database_does(cached: Container) -> None:
    """One miss stores the day for every party size a guest may ask for; each of
    those answers is the one computed for that size alone, before and after the
    day changes. (At the cache itself: no event feed runs beside the test.)"""
    import json
    from datetime import UTC, datetime

    from saveit.domain.commands import Actor, CreateReservation, GuestDetails

    cache = cached.availability
    assert cache is not None
    day = date.fromisoformat(DAY)
    tz = cached.booking.restaurant("demo").tz

    def book(hour: int, minute: int, party: int, phone: str) -> None:
        start = datetime(2026, 6, 3, hour, minute, tzinfo=tz).astimezone(UTC)
        cached.booking.create(
            CreateReservation("demo", start, party, GuestDetails("Ana", phone=phone)),
            Actor("guest", "web"),
        )

    for i, (hour, minute, party) in enumerate(((13, 30, 2), (14, 0, 4), (20, 30, 6), (21, 0, 8))):
        book(hour, minute, party, f"60011122{i}")
    for round_ in range(2):
        assert cache.read("demo", day, 3, area=None, staff=False)[1] == "miss"
        for party in range(1, 10):
            body, how = cache.read("demo", day, party, area=None, staff=False)
            assert how == ("hit" if party <= 8 else "miss")  # 8: the demo's online limit
            _, slots = cached.booking.availability("demo", day, party)
            expected = [s.start.astimezone(tz).strftime("%H:%M") for s in slots]
            assert [s["time"] for s in json.loads(body)["slots"]] == expected, party
            assert json.loads(body)["party_size"] == party
        book(22, 0, 2, f"60011133{round_}")  # the day changed: every size is read again


def test_a_refused_time_suggests_alternatives_from_the_days_recent_read_until_the_day_changes(
    api: TestClient, cached: Container
) -> None:
    """Alternatives to a taken time reuse the day's bookings as a cache miss read
    them moments ago, but never a read older than a change made or heard here."""
    from sqlalchemy import event

    day_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "reservation_tables" in statement:
            day_reads.append(statement)

    def refused() -> list[str]:
        got = api.post(
            "/v1/restaurants/demo/reservations",
            json={
                "date": DAY,
                "time": "21:00",
                "party_size": 8,
                "name": "Bo",
                "phone": "600222333",
            },
        )
        assert got.status_code == 409, got.text
        assert got.json()["code"] == "SLOT_TAKEN"
        return [a[11:16] for a in got.json()["alternatives"]]

    assert read(api, party=8)[1] == "miss"  # the day's (empty) bookings, held here
    event.listen(cached.engine, "before_cursor_execute", count)
    try:
        book(api, "21:00", party=8)  # the only table for eight, changed after that read
        first = refused()
        assert len(day_reads) >= 1  # the held read predates the booking: read again
        assert not {"20:00", "21:30"} & set(first)  # both overlap 21:00
        started = time.monotonic()
        read(api, party=8)  # a miss reads the day as it is now
        before = len(day_reads)
        assert refused() == first
        # A read is held for OCCUPANCY_TTL_S of wall clock; on a loaded machine the
        # refusal can come later than that, and then rightly reads the day again.
        if time.monotonic() - started < OCCUPANCY_TTL_S:
            assert len(day_reads) == before  # taken from that read, not the database
    finally:
        event.remove(cached.engine, "before_cursor_execute", count)


def test_the_writer_keeps_what_it_cached_after_its_own_change_when_it_hears_of_it(
    cached: Container,
) -> None:
    """The writing process invalidated every tier right after its commit; when the
    change comes back on the event stream, only other processes drop anything.
    (Before, each party size of the day missed a second time in the writer.)"""
    from datetime import UTC, datetime

    from saveit.cache.invalidation import Invalidator
    from saveit.domain.commands import Actor, CreateReservation, GuestDetails
    from saveit.domain.events import Event
    from saveit.store.schema import outbox

    cache = cached.availability
    assert cache is not None
    day = date.fromisoformat(DAY)

    def cached_here() -> bool:
        return cache.peek("demo", day, 2, area=None, staff=False) is not None

    def booked(phone: str) -> Event:
        cached.booking.create(
            CreateReservation(
                "demo",
                datetime(2026, 6, 3, 19, 0, tzinfo=UTC),
                2,
                GuestDetails("Ana", phone=phone),
            ),
            Actor("guest", "web"),
        )
        with cached.engine.connect() as conn:
            row = conn.execute(outbox.select().order_by(outbox.c.id.desc()).limit(1)).one()
        heard = datetime.now(UTC)  # at once: an event's age is judged on the wall clock
        return Event(row.event_id, row.type, row.restaurant_id, row.payload, heard, row.id)

    hearing = Invalidator(cache, cached.booking)
    mine = booked("600111222")
    cache.read("demo", day, 2, area=None, staff=False)  # after the commit: includes it
    assert cached_here()
    hearing.on_events([mine])
    assert cached_here()  # its own change, already invalidated here: nothing to drop

    theirs = booked("600111333")
    cache.read("demo", day, 2, area=None, staff=False)
    other = Event(  # the same news, as another process's booking would bring it
        "another-process",
        theirs.type,
        theirs.restaurant_id,
        {**theirs.payload, "reservation": {**theirs.payload["reservation"], "code": "XXXXXXXX"}},
        theirs.created_at,
        theirs.outbox_id,
    )
    hearing.on_events([other])
    assert not cached_here()  # a change this process did not make is dropped
