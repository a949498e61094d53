"""The consumer runner: handler per event, ack after success, idempotent, retried, logged."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from saveit.bootstrap import Container
from saveit.events import (
    Bus,
    Consumer,
    Event,
    InProcessBus,
    MemoryProcessedStore,
    OutboxRelay,
    RedisStreamsBus,
    SqlProcessedStore,
)
from saveit.store.schema import outbox
from tests.integration.conftest import DEAD_REDIS_URL, BusFactory, TcpProxy
from tests.support import FakeClock


def _events(n: int) -> list[Event]:
    return [
        Event(
            event_id=str(uuid.uuid4()),
            type="reservation.modified",
            restaurant_id=1,
            payload={"n": i},
            created_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
            outbox_id=i,
        )
        for i in range(1, n + 1)
    ]


class Recorder:
    """A handler that records what it saw and fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.seen: list[Event] = []
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise RuntimeError(f"handler broke on call {self.calls}")
            self.seen.append(event)


def _consumer(bus: Bus, handler: Recorder, **kwargs: Any) -> Consumer:
    kwargs.setdefault("processed", MemoryProcessedStore())
    kwargs.setdefault("retry_delays_s", (0, 0))
    return Consumer(bus, "notifier", handler, block_ms=0, **kwargs)


def test_each_event_is_handled_then_acked_and_recorded(make_bus: BusFactory) -> None:
    bus = make_bus()
    handler, processed = Recorder(), MemoryProcessedStore()
    consumer = _consumer(bus, handler, processed=processed, name="w1")
    sent = _events(5)
    consumer.poll_once()  # creates the group; nothing yet
    bus.publish(sent)
    stats = consumer.poll_once()
    assert (stats.handled, stats.duplicates, stats.failed) == (5, 0, 0)
    assert handler.seen == sent
    assert bus.pending("notifier") == []
    assert all(processed.seen("notifier", e.event_id) for e in sent)
    assert not processed.seen("analytics", sent[0].event_id)  # per group


def test_event_types_the_group_ignores_are_acked_without_bookkeeping(
    make_bus: BusFactory,
) -> None:
    """A group that wants only some types (the notifier: reservation changes) must
    not pay a processed-store write per chat message flowing past it."""
    bus = make_bus()
    handler, processed = Recorder(), MemoryProcessedStore()
    consumer = _consumer(
        bus, handler, processed=processed, accepts=lambda kind: kind == "reservation.modified"
    )
    wanted = _events(2)
    chatter = [
        Event(str(uuid.uuid4()), "message.received", 1, {}, e.created_at, e.outbox_id)
        for e in _events(3)
    ]
    consumer.poll_once()
    bus.publish([chatter[0], wanted[0], chatter[1], chatter[2], wanted[1]])
    stats = consumer.poll_once()
    assert (stats.handled, stats.skipped) == (2, 3)
    assert handler.seen == wanted
    assert bus.pending("notifier") == []
    assert not any(processed.seen("notifier", e.event_id) for e in chatter)
    assert all(processed.seen("notifier", e.event_id) for e in wanted)


def test_a_batch_is_prepared_once_with_the_events_to_handle_before_any_is_handled(
    make_bus: BusFactory,
) -> None:
    """``prepare`` lets a handler read once per batch: it sees the wanted events
    not yet handled, in order, before the first handler call."""
    bus = make_bus()
    handler, processed = Recorder(), MemoryProcessedStore()
    batches: list[tuple[list[Event], int]] = []
    consumer = _consumer(
        bus,
        handler,
        processed=processed,
        accepts=lambda kind: kind == "reservation.modified",
        prepare=lambda batch: batches.append((list(batch), handler.calls)),
    )
    done, *fresh = _events(4)
    processed.mark_many("notifier", [done.event_id])
    chatter = Event(str(uuid.uuid4()), "message.received", 1, {}, done.created_at, 9)
    consumer.poll_once()
    bus.publish([done, fresh[0], chatter, *fresh[1:]])
    consumer.poll_once()
    assert batches == [(fresh, 0)]
    assert handler.seen == fresh


def test_a_failing_prepare_leaves_each_event_to_its_handler(
    make_bus: BusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bus = make_bus()
    handler = Recorder()

    def broken(_batch: Any) -> None:
        raise RuntimeError("the database went away")

    consumer = _consumer(bus, handler, prepare=broken)
    sent = _events(3)
    consumer.poll_once()
    bus.publish(sent)
    with caplog.at_level(logging.ERROR):
        stats = consumer.poll_once()
    assert (stats.handled, stats.failed) == (3, 0)
    assert handler.seen == sent
    assert "preparing a batch failed" in caplog.text


def test_an_event_published_twice_is_handled_once(make_bus: BusFactory) -> None:
    bus = make_bus()
    handler = Recorder()
    consumer = _consumer(bus, handler)
    (event,) = _events(1)
    bus.publish([event])
    bus.publish([event])  # a relay that crashed before marking the row republishes it
    stats = consumer.poll_once()
    assert (stats.handled, stats.duplicates) == (1, 1)
    assert handler.seen == [event]
    assert bus.pending("notifier") == []


def test_a_redelivered_event_handled_before_the_crash_is_not_handled_again(
    make_bus: BusFactory,
) -> None:
    bus = make_bus()
    processed = MemoryProcessedStore()
    bus.ensure_group("notifier")
    bus.publish(_events(1))
    (delivery,) = bus.read("notifier", "crashed")
    processed.mark("notifier", delivery.event.event_id)  # handled and recorded, never acked
    handler = Recorder()
    heir = _consumer(bus, handler, processed=processed, min_idle_ms=50, reclaim_every_s=0)
    time.sleep(0.1)
    stats = heir.poll_once()
    assert (stats.handled, stats.duplicates) == (0, 1)
    assert handler.calls == 0
    assert bus.pending("notifier") == []


def test_a_dead_members_event_is_reclaimed_and_handled_by_another(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.ensure_group("notifier")
    sent = _events(2)
    bus.publish(sent)
    assert len(bus.read("notifier", "dead", count=10)) == 2  # dies holding both
    handler = Recorder()
    heir = _consumer(bus, handler, name="heir", min_idle_ms=150, reclaim_every_s=0)
    assert heir.poll_once().handled == 0  # not idle long enough: the owner may be alive
    time.sleep(0.2)
    assert heir.poll_once().handled == 2
    assert handler.seen == sent
    assert bus.pending("notifier") == []


def test_a_flaky_handler_is_retried_in_place_and_each_failure_logged(
    make_bus: BusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bus = make_bus()
    handler = Recorder(failures=2)
    consumer = _consumer(bus, handler)
    bus.publish(_events(1))
    stats = consumer.poll_once()
    assert (stats.handled, stats.failed) == (1, 0)
    assert handler.calls == 3
    failures = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)


def test_a_failing_event_stays_pending_then_is_dead_lettered(
    make_bus: BusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bus = make_bus()
    handler = Recorder(failures=1000)
    consumer = _consumer(bus, handler, min_idle_ms=50, reclaim_every_s=0, max_deliveries=2)
    (event,) = _events(1)
    bus.publish([event])
    stats = consumer.poll_once()
    assert (stats.handled, stats.failed, stats.dead_lettered) == (0, 1, 0)
    assert [p.deliveries for p in bus.pending("notifier")] == [1]  # not acked: will come back
    time.sleep(0.1)
    stats = consumer.poll_once()  # reclaimed (delivery 2), fails again: parked
    assert (stats.failed, stats.dead_lettered) == (1, 1)
    assert bus.pending("notifier") == []
    assert handler.calls == 6  # 3 attempts per delivery
    assert "dead-lettering reservation.modified" in caplog.text
    if isinstance(bus, InProcessBus):
        assert [d.event for d in bus.dead_letters] == [event]


def test_consumer_survives_an_unreachable_redis(
    redis_stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = RedisStreamsBus(DEAD_REDIS_URL, stream=redis_stream)
    consumer = Consumer(bus, "g", Recorder(), processed=MemoryProcessedStore(), max_backoff_s=0.1)
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop,))
    worker.start()
    time.sleep(0.4)
    assert worker.is_alive()
    stop.set()
    worker.join(timeout=3)
    assert not worker.is_alive()
    assert "bus unavailable" in caplog.text
    bus.close()


def test_sql_processed_store(container: Container, clock: FakeClock) -> None:
    store = SqlProcessedStore(container.engine, clock=clock)
    event_id = str(uuid.uuid4())
    assert not store.seen("notifier", event_id)
    store.mark("notifier", event_id)
    store.mark("notifier", event_id)  # twice is harmless
    assert store.seen("notifier", event_id)
    assert not store.seen("analytics", event_id)
    clock.advance(days=8)
    store.mark("analytics", event_id)
    assert store.prune(clock.now - timedelta(days=7)) == 1
    assert not store.seen("notifier", event_id)
    assert store.seen("analytics", event_id)


def test_sql_processed_store_checks_and_records_many_at_once(
    container: Container, clock: FakeClock
) -> None:
    store = SqlProcessedStore(container.engine, clock=clock)
    old, new, other = (str(uuid.uuid4()) for _ in range(3))
    store.mark("notifier", old)
    assert store.seen_many("notifier", []) == set()
    assert store.seen_many("notifier", [old, new, old]) == {old}
    store.mark_many("notifier", [old, new, new])  # recorded before, twice in one call
    store.mark_many("notifier", [])
    assert store.seen_many("notifier", [old, new, other]) == {old, new}
    assert store.seen_many("analytics", [old, new]) == set()
    clock.advance(days=8)
    store.mark_many("analytics", [old])
    assert store.prune(clock.now - timedelta(days=7)) == 2


def test_a_batch_is_checked_and_recorded_with_one_statement_each(
    container: Container, make_bus: BusFactory
) -> None:
    """Five new events, one of them delivered twice in the batch, and one the group
    handled before: one look-up and one record for the lot, each new event
    handled once, in order."""
    bus = make_bus()
    handler, processed = Recorder(), SqlProcessedStore(container.engine)
    consumer = _consumer(bus, handler, processed=processed)
    consumer.poll_once()
    fresh = _events(5)
    (earlier,) = _events(1)
    processed.mark("notifier", earlier.event_id)
    bus.publish([fresh[0], earlier, *fresh[1:3], fresh[0], *fresh[3:]])
    sql: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "processed_events" in statement:
            sql.append(statement.lstrip().split(None, 1)[0].upper())

    sa_event.listen(container.engine, "before_cursor_execute", count)
    try:
        stats = consumer.poll_once()
    finally:
        sa_event.remove(container.engine, "before_cursor_execute", count)
    assert sorted(sql) == ["INSERT", "SELECT"]
    assert (stats.handled, stats.duplicates, stats.failed) == (5, 2, 0)
    assert handler.seen == fresh
    assert processed.seen_many("notifier", [e.event_id for e in fresh]) == {
        e.event_id for e in fresh
    }
    assert bus.pending("notifier") == []
    assert consumer.poll_once().handled == 0


def test_a_failing_event_does_not_hold_back_the_rest_of_its_batch(make_bus: BusFactory) -> None:
    bus = make_bus()
    first, broken, last = _events(3)
    seen: list[Event] = []

    def handler(event: Event) -> None:
        if event.event_id == broken.event_id:
            raise RuntimeError("broken")
        seen.append(event)

    processed = MemoryProcessedStore()
    consumer = Consumer(
        bus, "notifier", handler, processed=processed, block_ms=0, retry_delays_s=(0,)
    )
    consumer.poll_once()
    bus.publish([first, broken, last])
    stats = consumer.poll_once()
    assert (stats.handled, stats.failed, stats.dead_lettered) == (2, 1, 0)
    assert seen == [first, last]
    assert [processed.seen("notifier", e.event_id) for e in (first, broken, last)] == [
        True,
        False,
        True,
    ]
    assert [p.deliveries for p in bus.pending("notifier")] == [1]  # the broken one comes back


def test_bookings_flow_to_every_group_once(
    container: Container,
    make_bookings: Callable[[int], list[str]],
    make_bus: BusFactory,
) -> None:
    """End to end: booking transaction -> outbox -> relay -> bus -> two consumer groups."""
    bus = make_bus()
    durable, live = Recorder(failures=1), Recorder()
    consumers = [
        Consumer(bus, "notifier", durable, processed=SqlProcessedStore(container.engine)),
        Consumer(bus, "realtime", live, processed=MemoryProcessedStore(), block_ms=100),
        Consumer(bus, "realtime", live, processed=MemoryProcessedStore(), block_ms=100),
    ]
    relay = OutboxRelay(container.engine, make_bus(), poll_interval_s=0.02)
    for c in consumers:
        c.poll_once(block_ms=0)  # create the groups
    stop = threading.Event()
    runners: list[OutboxRelay | Consumer] = [relay, *consumers]
    workers = [threading.Thread(target=r.run, args=(stop,)) for r in runners]
    for w in workers:
        w.start()
    try:
        types = make_bookings(4)
        deadline = time.monotonic() + 15
        while len(durable.seen) < len(types) or len(live.seen) < len(types):
            assert time.monotonic() < deadline, (len(durable.seen), len(live.seen))
            time.sleep(0.02)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=5)
    assert not any(w.is_alive() for w in workers)
    with container.engine.connect() as conn:
        ids = [r.event_id for r in conn.execute(select(outbox).order_by(outbox.c.id))]
    assert [e.event_id for e in durable.seen] == ids  # one member: in order, once
    assert sorted(e.event_id for e in live.seen) == sorted(ids)  # two members: once each
    assert bus.pending("notifier") == []
    assert bus.pending("realtime") == []


def test_a_running_consumer_resumes_when_redis_comes_back(
    redis_url: str, redis_stream: str, redis_proxy: TcpProxy
) -> None:
    bus = RedisStreamsBus(f"redis://127.0.0.1:{redis_proxy.port}/0", stream=redis_stream)
    publisher = RedisStreamsBus(redis_url, stream=redis_stream)
    handler = Recorder()
    consumer = Consumer(
        bus, "g", handler, processed=MemoryProcessedStore(), block_ms=100, max_backoff_s=0.2
    )
    consumer.poll_once(block_ms=0)
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop,))
    worker.start()
    try:
        redis_proxy.down()
        sent = _events(3)
        publisher.publish(sent)
        time.sleep(0.5)
        assert handler.seen == []
        redis_proxy.up()
        deadline = time.monotonic() + 10
        while len(handler.seen) < len(sent):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(timeout=5)
    assert handler.seen == sent
    assert publisher.pending("g") == []
    bus.close()
    publisher.close()


@pytest.mark.parametrize("linger_s", [0.4, 0.0], ids=["lingering", "eager"])
def test_a_lingering_group_reads_events_that_trickle_in_as_one_batch(
    make_bus: BusFactory, linger_s: float
) -> None:
    """Events published 40 ms apart, as a relay under load publishes them, reach a
    group that lingers as one batch (one look-up, one record, one ack for all of
    them), and every one is still handled; a group that does not linger reads
    each as it comes."""
    bus = make_bus()
    handler = Recorder()
    batches: list[list[str]] = []
    consumer = Consumer(
        bus,
        "notifier",
        handler,
        processed=MemoryProcessedStore(),
        block_ms=200,
        prepare=lambda batch: batches.append([e.event_id for e in batch]),
        linger_s=linger_s,
    )
    consumer.poll_once(block_ms=0)  # creates the group
    first, *trickle = _events(4)
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop,))
    worker.start()
    try:
        bus.publish([first])
        deadline = time.monotonic() + 5
        while not handler.seen:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        for event in trickle:  # all of them within the linger after the first batch
            bus.publish([event])
            time.sleep(0.04)
        while len(handler.seen) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=5)
    assert handler.seen == [first, *trickle]
    if linger_s:
        assert batches == [[first.event_id], [e.event_id for e in trickle]]
    else:
        assert len(batches) > 2  # each on its own, but for a stall of the test machine
