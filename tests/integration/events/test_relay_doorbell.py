"""The outbox doorbell: a commit that writes events wakes the relay, in its own
process or through Redis from another, so a live update does not wait for the
relay's next poll. The relays here poll every 30 s: an event that arrives
within a few seconds arrived because it was rung for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from saveit.bootstrap import Container
from saveit.events import Bus, InProcessBus, OutboxRelay, RedisStreamsBus
from saveit.events.doorbell import DoorbellListener, RedisDoorbell, channel_of
from saveit.store.outbox import hang_doorbell
from tests.integration.conftest import DEAD_REDIS_URL, BusFactory

Book = Callable[[int], list[str]]
NEVER_POLLS = 30.0


@contextmanager
def running(relay: OutboxRelay) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.2)  # its first drain is done: it is idle, waiting for a ring or its poll
    try:
        yield
    finally:
        stop.set()
        relay.wake()
        thread.join(timeout=5)


def _arrives(bus: Bus, count: int, within: float = 3.0) -> float:
    """Seconds until ``count`` events are on the bus (group ``probe``)."""
    began = time.monotonic()
    got = 0
    while got < count:
        got += len(bus.read("probe", "reader", count=50, block_ms=50))
        if time.monotonic() - began > within:
            raise AssertionError(f"{got} of {count} events published after {within} s")
    return time.monotonic() - began


def test_a_commit_wakes_the_relay_of_its_own_process(
    container: Container, make_bookings: Book, make_bus: BusFactory
) -> None:
    """Fails without the doorbell: the event waits for the relay's next poll (30 s)."""
    bus = make_bus()
    bus.ensure_group("probe")
    relay = OutboxRelay(container.engine, bus, poll_interval_s=NEVER_POLLS)
    hang_doorbell(container.engine, relay.wake)
    try:
        with running(relay):
            make_bookings(1)
            assert _arrives(bus, 1) < 1.0
    finally:
        hang_doorbell(container.engine, None)


def test_a_commit_in_another_process_rings_through_redis(
    container: Container, make_bookings: Book, redis_url: str, redis_stream: str
) -> None:
    """The API process rings on Redis; the worker's listener wakes its relay.
    Fails without the doorbell: the events wait for the relay's next poll (30 s)."""
    bus = RedisStreamsBus(redis_url, stream=redis_stream)
    bus.ensure_group("probe")
    relay = OutboxRelay(container.engine, bus, poll_interval_s=NEVER_POLLS)
    channel = channel_of(redis_stream)
    listener = DoorbellListener(redis_url, channel, relay.wake)
    bell = RedisDoorbell(redis_url, channel)
    listener.start()
    bell.start()
    hang_doorbell(container.engine, bell.ring)
    try:
        with running(relay):
            time.sleep(0.3)  # the listener has subscribed
            make_bookings(1)
            assert _arrives(bus, 1) < 1.0
            make_bookings(3)  # three bookings, a cancellation and a check-in
            assert _arrives(bus, 5) < 2.0
    finally:
        hang_doorbell(container.engine, None)
        bell.join()
        listener.join()
        bus.close()
    assert bell.published >= 1


def test_a_rolled_back_transaction_rings_nothing(container: Container, demo: str) -> None:
    rings: list[None] = []
    hang_doorbell(container.engine, lambda: rings.append(None))
    restaurant_id = container.booking.restaurant(demo).id
    db = container.booking.db
    try:

        def emit_then_fail() -> None:
            with db.unit_of_work() as uow:
                uow.emit(restaurant_id=restaurant_id, type_="guest.erased", payload={}, at=_now())
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            emit_then_fail()
        assert rings == []
        with db.unit_of_work() as uow:  # the mark did not stay on the pooled connection
            uow.restaurants  # noqa: B018 - a transaction that writes no event
        assert rings == []
        with db.unit_of_work() as uow:
            uow.emit(restaurant_id=restaurant_id, type_="guest.erased", payload={}, at=_now())
        assert rings == [None]
    finally:
        hang_doorbell(container.engine, None)


def test_without_redis_the_bell_keeps_requests_unharmed() -> None:
    """Ringing with Redis away never blocks the caller; the relay's poll covers."""
    bell = RedisDoorbell(DEAD_REDIS_URL, "saveit-test:doorbell", timeout_s=0.5)
    bell.start()
    try:
        began = time.monotonic()
        for _ in range(100):
            bell.ring()
        assert time.monotonic() - began < 0.05
    finally:
        bell.join()
    assert bell.published == 0


def _now() -> datetime:
    return datetime.now(UTC)


class CountingBus:
    """The in-process bus, counting how many batches were published."""

    def __init__(self, inner: Bus) -> None:
        self.inner = inner
        self.batches = 0

    def publish(self, events: Any) -> None:
        self.batches += 1
        self.inner.publish(events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_burst_of_commits_is_published_in_a_few_batches(
    container: Container, make_bookings: Book
) -> None:
    """Every commit rings, but drains are at least ``min_gap_s`` apart: a burst
    goes out as a few stream entries' batches, not one batch per transaction
    (each batch wakes every consumer group and feed)."""
    bus = CountingBus(InProcessBus())
    bus.ensure_group("probe")
    relay = OutboxRelay(container.engine, bus, poll_interval_s=NEVER_POLLS, min_gap_s=0.5)
    hang_doorbell(container.engine, relay.wake)
    try:
        with running(relay):
            began = time.monotonic()
            types = make_bookings(6)  # eight commits with events, one after another
            _arrives(bus, len(types), within=5.0)  # type: ignore[arg-type]
            elapsed = time.monotonic() - began
    finally:
        hang_doorbell(container.engine, None)
    assert bus.batches <= 2 + int(elapsed / 0.5), (bus.batches, elapsed)
    assert bus.batches < len(types)
