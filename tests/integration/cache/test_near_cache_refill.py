"""What a process takes back into memory after a booking drops one of its days.

A booking invalidates every party size of its day, in every process. A process
that read three sizes of that day then needs all three again; one read from
Redis brings back each size it held (one ``HMGET``), and a process that
recomputes the day keeps the sizes it held from what it computed. Sizes it
never read stay out of its memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from saveit.cache import NearCache, RedisStore
from saveit.resilience import CircuitBreaker, RedisGate
from tests.integration.cache.support import Clock, only_in_memory

BUCKET = "1:2026-06-03"
HELD = ["7:1::p", "7:2::p", "7:4::p"]  # the sizes this process read of the day
NEVER_READ = "7:6::p"
AFTER = {**{key: b"after " + key.encode() for key in HELD}, NEVER_READ: None}


@pytest.fixture
def other(redis_url: str, prefix: str) -> Iterator[NearCache]:
    """Another API process on the same Redis."""
    gate = RedisGate(redis_url, breaker=CircuitBreaker("other"))
    yield NearCache(RedisStore(gate, prefix), local_ttl_s=1.0, entry_ttl_s=30.0)
    gate.close()


def _read_all(store: NearCache) -> None:
    for key in HELD:
        assert store.put(BUCKET, [(key, b"before " + key.encode())], "0|0", 30.0)


def _in_memory(store: NearCache) -> dict[str, bytes | None]:
    return {key: store.local.get(BUCKET, key)[0] for key in [*HELD, NEVER_READ]}


def _recomputed(store: NearCache) -> None:
    """The day computed again after the booking, every size at once (as a miss does)."""
    _, generation = store.get(BUCKET, HELD[0])
    day = [(key, b"after " + key.encode()) for key in [*HELD, NEVER_READ]]
    assert store.put_many([(BUCKET, day, generation)], 30.0) == [True]


async def _read_shared(store: NearCache, key: str) -> bytes | None:
    try:
        return await store.aget_shared(BUCKET, key)
    finally:
        await store.shared.gate.aclose()


def test_one_read_after_another_process_booked_brings_back_every_size_held_here(
    near: tuple[NearCache, Clock], other: NearCache
) -> None:
    store, _ = near
    _read_all(store)
    other.invalidate([BUCKET])  # the other process booked on that day
    store.invalidate_local([BUCKET])  # and this one heard it on the event stream
    assert set(_in_memory(store).values()) == {None}
    _recomputed(other)

    assert asyncio.run(_read_shared(store, HELD[1])) == b"after 7:2::p"

    only_in_memory(store, BUCKET)
    assert _in_memory(store) == AFTER


def test_the_process_that_recomputes_the_day_keeps_the_sizes_it_held(
    near: tuple[NearCache, Clock],
) -> None:
    store, _ = near
    _read_all(store)
    store.invalidate([BUCKET])  # this process booked on that day
    _recomputed(store)

    only_in_memory(store, BUCKET)
    assert _in_memory(store) == AFTER


def test_a_size_read_once_more_alone_is_not_fetched_twice(
    near: tuple[NearCache, Clock], other: NearCache
) -> None:
    """Once the day is back, a later read of a size held is a hit in memory, and a
    size that Redis lacks for now is asked for again by the next read."""
    store, _ = near
    _read_all(store)
    other.invalidate([BUCKET])
    store.invalidate_local([BUCKET])
    assert asyncio.run(_read_shared(store, HELD[0])) is None  # nobody recomputed it yet
    _recomputed(other)

    assert asyncio.run(_read_shared(store, HELD[2])) == b"after 7:4::p"
    assert store.local.dropped(BUCKET) == frozenset()
