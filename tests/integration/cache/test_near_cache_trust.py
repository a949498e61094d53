"""How long a process keeps its own copy of a cached availability answer.

While it hears every invalidation — its read of the event stream works and the
relay has marked itself caught up — a copy lives as long as its entry, so a
platform's many restaurants are answered from memory rather than a Redis round
trip each. When either stops, copies fall back to the short near-cache life
(1 s), which bounds what a stalled event path can leave stale."""

from __future__ import annotations

import threading
import time

import redis

from saveit.bootstrap import Container
from saveit.cache import NearCache
from saveit.cache.invalidation import TRUST_FOR_S, StreamWatch
from saveit.events import InProcessBus, OutboxRelay
from saveit.events.doorbell import RelayHeartbeat, caught_up_key
from saveit.realtime.sources import RedisTail
from tests.integration.cache.support import Clock, only_in_memory

BUCKET, KEY = "1:2026-06-03", "7:2::p"


def test_a_copy_outlives_the_short_life_only_while_trusted(
    near: tuple[NearCache, Clock],
) -> None:
    store, clock = near
    assert store.put(BUCKET, [(KEY, b"answer")], "0|0", 30.0)
    only_in_memory(store, BUCKET)
    clock.now += 5.0  # past the 1 s near-cache life, well inside the entry's 30 s

    assert store.get(BUCKET, KEY)[0] is None  # untrusted: the 1 s rule, and Redis has none
    store.trust(TRUST_FOR_S)
    assert store.get(BUCKET, KEY)[0] == b"answer"
    assert store.local_max_age() is None

    clock.now += TRUST_FOR_S + 0.1  # nobody renewed the trust: it lapses by itself
    assert store.get(BUCKET, KEY)[0] is None

    store.trust(TRUST_FOR_S)
    store.invalidate_local([BUCKET])  # an invalidation heard drops it, trusted or not
    assert store.get(BUCKET, KEY)[0] is None


def test_a_trusted_copy_still_ends_with_its_entry(near: tuple[NearCache, Clock]) -> None:
    store, clock = near
    assert store.put(BUCKET, [(KEY, b"answer")], "0|0", 30.0)
    only_in_memory(store, BUCKET)
    clock.now += 31.0
    store.trust(TRUST_FOR_S)
    assert store.get(BUCKET, KEY)[0] is None


def test_the_stream_watch_trusts_only_while_the_relay_is_caught_up(
    near: tuple[NearCache, Clock], redis_url: str, prefix: str
) -> None:
    store, clock = near
    stream = f"{prefix}:events"
    watch = StreamWatch(RedisTail(redis_url, stream), store, redis_url, stream, clock=clock)
    heartbeat = RelayHeartbeat(redis_url, stream, clock=clock)
    try:
        watch.connect()
        watch.read(1)
        assert not store.trusted  # the stream is heard, but no relay says it is caught up

        heartbeat()
        clock.now += 0.6
        watch.read(1)
        assert store.trusted

        redis.Redis.from_url(redis_url).delete(caught_up_key(stream))  # the mark lapses
        clock.now += 0.6
        watch.read(1)
        assert not store.trusted
    finally:
        watch.close()
        heartbeat.close()


def test_the_running_relay_keeps_its_mark_and_the_mark_lapses_when_it_stops(
    container: Container, redis_url: str, prefix: str
) -> None:
    stream = f"{prefix}:events"
    client = redis.Redis.from_url(redis_url)
    heartbeat = RelayHeartbeat(redis_url, stream)
    relay = OutboxRelay(container.engine, InProcessBus(), poll_interval_s=10.0, caught_up=heartbeat)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(2.5)  # idle past the mark's 2 s life: it must keep writing it meanwhile
        assert client.exists(caught_up_key(stream))
        assert 0 < int(client.pttl(caught_up_key(stream))) <= 2000
    finally:
        stop.set()
        relay.wake()
        thread.join(timeout=5)
        heartbeat.close()
    time.sleep(2.1)
    assert not client.exists(caught_up_key(stream))
    client.close()
