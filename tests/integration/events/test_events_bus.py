"""The bus contract, run against both adapters (in-process and a real Redis)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis

from saveit.events import Bus, BusUnavailable, Event, InProcessBus, RedisStreamsBus
from tests.integration.conftest import DEAD_REDIS_URL, BusFactory


def _events(n: int, start: int = 1) -> list[Event]:
    return [
        Event(
            event_id=str(uuid.uuid4()),
            type="reservation.created",
            restaurant_id=1,
            payload={"n": i, "text": "ñandú"},
            created_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
            outbox_id=i,
        )
        for i in range(start, start + n)
    ]


def _drain(bus: Bus, group: str, consumer: str) -> list[Event]:
    got: list[Event] = []
    while batch := bus.read(group, consumer, count=3):
        got.extend(d.event for d in batch)
    return got


def test_events_round_trip_in_order_to_every_group(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.ensure_group("notifier")
    sent = _events(7)
    bus.publish(sent)
    bus.ensure_group("late-joiner")  # start="0": reads the retained log from the beginning
    assert _drain(bus, "notifier", "n1") == sent
    assert _drain(bus, "late-joiner", "l1") == sent


def test_live_only_group_skips_history(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.publish(_events(2))
    bus.ensure_group("live", start="$")
    later = _events(1, start=3)
    bus.publish(later)
    assert _drain(bus, "live", "w1") == later


def test_a_group_delivers_each_event_to_one_member(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.ensure_group("g")
    sent = _events(10)
    bus.publish(sent)
    a = [d.event for d in bus.read("g", "a", count=4)]
    b = [d.event for d in bus.read("g", "b", count=4)]
    a += [d.event for d in bus.read("g", "a", count=4)]
    assert not {e.event_id for e in a} & {e.event_id for e in b}
    assert sorted(a + b, key=lambda e: e.outbox_id) == sent
    assert bus.read("g", "b") == []


def test_ack_removes_from_pending(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.ensure_group("g")
    bus.publish(_events(3))
    got = bus.read("g", "a")
    assert [p.message_id for p in bus.pending("g")] == [d.message_id for d in got]
    assert all(p.consumer == "a" and p.deliveries == 1 for p in bus.pending("g"))
    assert bus.ack("g", [got[0].message_id, got[2].message_id]) == 2
    assert [p.message_id for p in bus.pending("g")] == [got[1].message_id]
    assert bus.ack("g", [got[0].message_id]) == 0  # acking twice is harmless
    bus.ack("g", [got[1].message_id])
    assert bus.pending("g") == []


def test_a_dead_consumers_events_are_reclaimed_after_idle_time(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.ensure_group("g")
    sent = _events(2)
    bus.publish(sent)
    assert [d.event for d in bus.read("g", "doomed")] == sent  # read, then "dies" without ack
    assert bus.claim_stale("g", "heir", min_idle_ms=60_000) == []  # not idle long enough
    time.sleep(0.15)
    claimed = bus.claim_stale("g", "heir", min_idle_ms=100)
    assert [d.event for d in claimed] == sent
    assert [d.deliveries for d in claimed] == [2, 2]
    assert {p.consumer for p in bus.pending("g")} == {"heir"}
    bus.ack("g", [d.message_id for d in claimed])
    assert bus.pending("g") == []
    assert bus.claim_stale("g", "heir", min_idle_ms=0) == []


def test_dead_letter_parks_and_acks(make_bus: BusFactory, request: pytest.FixtureRequest) -> None:
    bus = make_bus()
    bus.ensure_group("g")
    bus.publish(_events(1))
    (delivery,) = bus.read("g", "a")
    bus.dead_letter("g", delivery, "poison")
    assert bus.pending("g") == []
    if isinstance(bus, InProcessBus):
        assert [(d.event, d.reason) for d in bus.dead_letters] == [(delivery.event, "poison")]
    else:
        assert isinstance(bus, RedisStreamsBus)
        client = request.getfixturevalue("redis_client")
        ((_, fields),) = client.xrange(bus.dead_stream)
        assert fields["event_id"] == delivery.event.event_id
        assert fields["reason"] == "poison"
        assert fields["group"] == "g"


def test_blocking_read_wakes_on_publish(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.ensure_group("g")
    sent = _events(1)
    timer = threading.Timer(0.1, bus.publish, args=(sent,))
    timer.start()
    began = time.monotonic()
    got = bus.read("g", "a", block_ms=5000)  # clamped below the socket timeout on Redis
    timer.join()
    assert [d.event for d in got] == sent
    assert time.monotonic() - began < 1.5


def test_the_log_is_trimmed_to_about_maxlen(make_bus: BusFactory) -> None:
    bus = make_bus(maxlen=100)
    if isinstance(bus, InProcessBus):
        bus = InProcessBus(maxlen=100)
    for i in range(10):
        bus.publish(_events(100, start=i * 100 + 1))
    bus.ensure_group("g")
    kept = _drain(bus, "g", "a")
    assert 100 <= len(kept) < 1000  # approximate on Redis: whole radix-tree nodes go
    assert kept[-1].outbox_id == 1000


def test_unreachable_redis_fails_fast_with_bus_unavailable(redis_stream: str) -> None:
    bus = RedisStreamsBus(DEAD_REDIS_URL, stream=redis_stream)
    began = time.monotonic()
    with pytest.raises(BusUnavailable):
        bus.publish(_events(1))
    with pytest.raises(BusUnavailable):
        bus.ensure_group("g")
    with pytest.raises(BusUnavailable):
        bus.read("g", "a", block_ms=100)
    assert not bus.healthy()
    assert time.monotonic() - began < 3
    bus.close()


def test_redis_group_lost_on_restart_is_recreated(
    redis_url: str, redis_stream: str, redis_client: redis.Redis
) -> None:
    bus = RedisStreamsBus(redis_url, stream=redis_stream)
    bus.ensure_group("g")
    redis_client.delete(redis_stream)  # as after a restart without persistence
    sent = _events(1)
    assert bus.read("g", "a") == []
    bus.publish(sent)
    assert [d.event for d in bus.read("g", "a")] == sent
    bus.close()


def test_redis_malformed_entry_is_dead_lettered_not_redelivered(
    redis_url: str, redis_stream: str, redis_client: redis.Redis
) -> None:
    bus = RedisStreamsBus(redis_url, stream=redis_stream)
    bus.ensure_group("g")
    redis_client.xadd(redis_stream, {"junk": "1"})
    good = _events(1)
    bus.publish(good)
    assert [d.event for d in bus.read("g", "a")] == good
    assert redis_client.xlen(bus.dead_stream) == 1
    assert [p.message_id for p in bus.pending("g")] != []  # only the good one, unacked
    assert len(bus.pending("g")) == 1
    bus.close()


def test_in_process_bus_is_thread_safe() -> None:
    bus = InProcessBus()
    bus.ensure_group("g")

    def publish() -> None:
        for _ in range(40):
            bus.publish(_events(5))

    publishers = [threading.Thread(target=publish) for _ in range(4)]
    received: list[list[Event]] = [[] for _ in range(3)]
    stop = threading.Event()

    def consume(i: int) -> None:
        while True:
            batch = bus.read("g", f"c{i}", count=7, block_ms=50)
            received[i].extend(d.event for d in batch)
            bus.ack("g", [d.message_id for d in batch])
            if stop.is_set() and not batch:  # everything was published before stop
                return

    consumers = [threading.Thread(target=consume, args=(i,)) for i in range(3)]
    for t in publishers + consumers:
        t.start()
    for t in publishers:
        t.join()
    stop.set()
    for t in consumers:
        t.join(timeout=10)
    ids = [e.event_id for got in received for e in got]
    assert len(ids) == 800
    assert len(set(ids)) == 800
    assert bus.pending("g") == []
