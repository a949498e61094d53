"""The outbox relay on real bookings, SQLite and PostgreSQL, in-process bus and real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from saveit.bootstrap import Container
from saveit.events import (
    EVENT_TYPES,
    Bus,
    BusUnavailable,
    Delivery,
    Event,
    OutboxRelay,
    RedisStreamsBus,
)
from saveit.store.schema import outbox
from tests.integration.conftest import DEAD_REDIS_URL, STAFF, BusFactory, TcpProxy
from tests.support import FakeClock

Book = Callable[[int], list[str]]
POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


class FlakyBus:
    """Wraps a bus and makes ``publish`` fail like an unreachable server while ``down``."""

    def __init__(self, inner: Bus) -> None:
        self.inner = inner
        self.down = False

    def publish(self, events: Sequence[Event]) -> None:
        if self.down:
            raise BusUnavailable("switched off by the test")
        self.inner.publish(events)

    def ensure_group(self, group: str, *, start: str = "0") -> None:
        self.inner.ensure_group(group, start=start)

    def read(self, group: str, consumer: str, *, count: int = 100, block_ms: int = 0) -> Any:
        return self.inner.read(group, consumer, count=count, block_ms=block_ms)

    def ack(self, group: str, message_ids: Sequence[str]) -> int:
        return self.inner.ack(group, message_ids)

    def claim_stale(self, group: str, consumer: str, *, min_idle_ms: int, count: int = 100) -> Any:
        return self.inner.claim_stale(group, consumer, min_idle_ms=min_idle_ms, count=count)

    def pending(self, group: str, *, count: int = 1000) -> Any:
        return self.inner.pending(group, count=count)

    def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        self.inner.dead_letter(group, delivery, reason)

    def close(self) -> None:
        self.inner.close()


def _outbox(engine: Engine) -> Sequence[Any]:
    with engine.connect() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def _received(bus: Bus, group: str = "probe") -> list[Event]:
    got: list[Event] = []
    while batch := bus.read(group, "reader", count=50):
        got.extend(d.event for d in batch)
    return got


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_bookings_are_published_in_outbox_order_and_marked(
    container: Container, make_bookings: Book, make_bus: BusFactory, clock: FakeClock
) -> None:
    bus = make_bus()
    bus.ensure_group("probe")
    types = make_bookings(5)
    assert set(types) <= set(EVENT_TYPES)
    rows = _outbox(container.engine)
    assert [r.type for r in rows] == types
    assert all(r.published_at is None for r in rows)

    relay = OutboxRelay(container.engine, bus, batch_size=2, clock=clock)
    assert relay.publish_pending() == len(rows)

    got = _received(bus)
    assert [e.event_id for e in got] == [r.event_id for r in rows]
    assert [e.outbox_id for e in got] == [r.id for r in rows]
    assert [e.type for e in got] == types
    assert got[0].payload["reservation"]["status"] == "confirmed"
    assert got[0].restaurant_id == rows[0].restaurant_id
    assert got[0].created_at == rows[0].created_at
    assert all(r.published_at == clock.now for r in _outbox(container.engine))

    assert relay.publish_pending() == 0  # a second pass publishes nothing new
    assert _received(bus) == []

    container.booking.cancel(rows[2].payload["reservation"]["code"], STAFF)
    assert relay.publish_pending() == 1
    assert [e.type for e in _received(bus)] == ["reservation.cancelled"]


def test_bus_outage_keeps_rows_until_the_bus_returns(
    container: Container, make_bookings: Book, make_bus: BusFactory
) -> None:
    flaky = FlakyBus(make_bus())
    flaky.ensure_group("probe")
    relay = OutboxRelay(container.engine, flaky, batch_size=3)
    make_bookings(4)
    flaky.down = True
    assert relay.publish_pending() == 0
    with pytest.raises(BusUnavailable):
        relay.publish_batch()
    assert all(r.published_at is None for r in _outbox(container.engine))
    flaky.down = False
    assert relay.publish_pending() == 6
    assert [e.outbox_id for e in _received(flaky)] == [r.id for r in _outbox(container.engine)]


def test_dead_redis_publishes_nothing_then_everything_once_reachable(
    container: Container, make_bookings: Book, redis_url: str, redis_stream: str
) -> None:
    types = make_bookings(3)
    dead = RedisStreamsBus(DEAD_REDIS_URL, stream=redis_stream)
    began = time.monotonic()
    assert OutboxRelay(container.engine, dead).publish_pending() == 0  # logged, not raised
    assert time.monotonic() - began < 3
    assert all(r.published_at is None for r in _outbox(container.engine))

    live = RedisStreamsBus(redis_url, stream=redis_stream)
    live.ensure_group("probe")
    assert OutboxRelay(container.engine, live).publish_pending() == len(types)
    rows = _outbox(container.engine)
    assert all(r.published_at is not None for r in rows)
    assert [e.event_id for e in _received(live)] == [r.event_id for r in rows]
    dead.close()
    live.close()


def test_run_loop_backs_off_while_down_and_catches_up(
    container: Container,
    make_bookings: Book,
    make_bus: BusFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = FlakyBus(make_bus())
    flaky.ensure_group("probe")
    flaky.down = True
    relay = OutboxRelay(container.engine, flaky, poll_interval_s=0.02, max_backoff_s=0.1)
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop,))
    worker.start()
    try:
        make_bookings(2)
        time.sleep(0.4)
        assert worker.is_alive()
        assert all(r.published_at is None for r in _outbox(container.engine))
        assert "bus unavailable" in caplog.text
        flaky.down = False
        _wait_for(lambda: all(r.published_at for r in _outbox(container.engine)))
    finally:
        stop.set()
        worker.join(timeout=5)
    assert not worker.is_alive()
    assert len(_received(flaky)) == 4


def test_racing_relays_publish_every_event_once_in_order(
    container: Container, make_bookings: Book, make_bus: BusFactory
) -> None:
    bus = make_bus()
    bus.ensure_group("probe")
    make_bookings(12)
    relays = [
        OutboxRelay(container.engine, make_bus(), batch_size=2, poll_interval_s=0.01)
        for _ in range(4)
    ]
    barrier = threading.Barrier(len(relays))
    published = [0] * len(relays)

    def race(i: int) -> None:
        barrier.wait()
        published[i] = relays[i].publish_pending()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(relays))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    rows = _outbox(container.engine)
    assert all(r.published_at is not None for r in rows)  # nothing left behind
    assert sum(published) == len(rows)  # and nothing published twice …
    got = _received(bus)
    assert [e.event_id for e in got] == [r.event_id for r in rows]  # … in outbox order


@POSTGRES_ONLY
def test_a_relay_skips_rows_locked_by_another_instead_of_waiting(
    container: Container, make_bookings: Book, make_bus: BusFactory
) -> None:
    bus = make_bus()
    bus.ensure_group("probe")
    make_bookings(3)
    relay = OutboxRelay(container.engine, bus, batch_size=2)
    with container.engine.begin() as other:  # another relay holding the oldest rows
        other.execute(select(outbox.c.id).order_by(outbox.c.id).limit(2).with_for_update())
        began = time.monotonic()
        assert relay.publish_batch() is None  # it yields: publishing later rows would reorder
        assert time.monotonic() - began < 1
    assert relay.publish_pending() == 5
    assert [e.outbox_id for e in _received(bus)] == [r.id for r in _outbox(container.engine)]


@POSTGRES_ONLY
def test_a_row_committed_late_with_a_lower_id_is_not_skipped(
    container: Container, demo: str, make_bus: BusFactory, clock: FakeClock
) -> None:
    bus = make_bus()
    bus.ensure_group("probe")
    relay = OutboxRelay(container.engine, bus)
    restaurant_id = container.booking.restaurant(demo).id

    def row() -> dict[str, object]:
        return {
            "event_id": str(uuid.uuid4()),
            "restaurant_id": restaurant_id,
            "type": "reservation.created",
            "payload": {},
            "created_at": clock.now,
        }

    slow = container.engine.connect()
    slow_tx = slow.begin()
    slow.execute(insert(outbox).values(row()))  # takes the lower id, commits last
    with container.engine.begin() as fast:
        fast.execute(insert(outbox).values(row()))
    assert relay.publish_pending() == 1
    slow_tx.commit()
    slow.close()
    assert relay.publish_pending() == 1
    rows = _outbox(container.engine)
    assert all(r.published_at is not None for r in rows)
    assert [e.outbox_id for e in _received(bus)] == [rows[1].id, rows[0].id]


def test_the_same_redis_bus_recovers_when_redis_comes_back(
    container: Container,
    make_bookings: Book,
    redis_url: str,
    redis_stream: str,
    redis_proxy: TcpProxy,
) -> None:
    bus = RedisStreamsBus(f"redis://127.0.0.1:{redis_proxy.port}/0", stream=redis_stream)
    reader = RedisStreamsBus(redis_url, stream=redis_stream)
    reader.ensure_group("probe")
    relay = OutboxRelay(container.engine, bus)
    make_bookings(1)
    assert relay.publish_pending() == 1  # the pooled connection is now open

    redis_proxy.down()  # Redis "stops": open connections die, new ones are refused
    make_bookings(3)
    began = time.monotonic()
    assert relay.publish_pending() == 0
    assert relay.publish_pending() == 0
    assert time.monotonic() - began < 3
    assert sum(r.published_at is None for r in _outbox(container.engine)) == 5

    redis_proxy.up()
    assert relay.publish_pending() == 5
    rows = _outbox(container.engine)
    assert all(r.published_at is not None for r in rows)
    assert [e.event_id for e in _received(reader)] == [r.event_id for r in rows]
    bus.close()
    reader.close()
