"""No stale availability across processes: two ``saveit serve`` processes and a
``saveit worker`` on one PostgreSQL database and a real Redis.

Read on B (now cached), book on A, read on B again: the slot is gone within a
short bound. With Redis alone (A's after-commit invalidation is what B sees),
with the default one-second near cache, and with B's near cache kept for a
minute, so that only the event stream can tell B in time — which proves the
per-process event path on its own.

Each process hears every event but invalidates only its own near cache, since
the writer already invalidated Redis after its commit; when Redis may have
missed that (the event is late or Redis failed recently), the stream path
invalidates Redis as well — see ``AvailabilityCache.invalidate_heard`` and
``tests/integration/test_degradation_redis.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.chaos_support import (
    Processes,
    booking_day,
    delete_prefix,
    free_times,
    fresh_database,
    reserve,
    saveit_env,
    shared_redis,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

BOUND_S = 2.0  # invalidation latency allowed (the relay polls every 50 ms)


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[tuple[Processes, dict[str, str], str]]:
    url = shared_redis()
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    processes = Processes(tmp_path)
    with fresh_database() as db:
        env = saveit_env(
            SAVEIT_DATABASE_URL=db,
            SAVEIT_REDIS_URL=url,
            SAVEIT_REDIS_PREFIX=prefix,
            SAVEIT_EVENTS_STREAM=f"{prefix}:events",
            SAVEIT_RATELIMIT_IP_PER_MINUTE="100000",
        )
        try:
            yield processes, env, prefix
        finally:
            processes.stop()
            delete_prefix(url, prefix)


def _stale_reads(client: httpx.Client, base: str, at: str, party: int) -> int:
    """How many reads of ``base`` still offered ``at`` before one did not (within
    BOUND_S). Counted, not timed: one read of a loaded test machine can take longer
    than the whole wait it is meant to show."""
    day = booking_day(3)
    started, stale = time.monotonic(), 0
    while at in free_times(client, base, day, party):
        assert time.monotonic() - started < BOUND_S, f"{at} still offered on {base}"
        stale += 1
        time.sleep(0.02)
    return stale


@pytest.mark.parametrize("caches", ["shared-redis-only", "shared", "long-near-cache"])
def test_a_booking_on_a_leaves_no_stale_availability_on_b(
    cluster_env: tuple[Processes, dict[str, str], str], caches: str
) -> None:
    processes, env, _prefix = cluster_env
    processes.start("worker", ["worker"], env)
    a = processes.serve("api-a", env)
    if caches == "shared-redis-only":  # no near cache: A's invalidation is all B needs
        env = {**env, "SAVEIT_AVAILABILITY_LOCAL_TTL_S": "0"}
    b_env = env if caches != "long-near-cache" else {**env, "SAVEIT_AVAILABILITY_LOCAL_TTL_S": "60"}
    b = processes.serve("api-b", b_env)
    day = booking_day(3)
    with httpx.Client() as client:
        assert "21:00" in free_times(client, b, day, 8)
        hit = client.get(
            f"{b}/v1/restaurants/demo/availability",
            params={"date": day.isoformat(), "party_size": 8},
        )
        assert hit.headers["X-SaveIt-Cache"] == "hit"
        made = reserve(client, a, day, "21:00", party=8)
        assert made.status_code == 201, made.text
        stale = _stale_reads(client, b, "21:00", 8)
    if caches == "shared-redis-only":
        assert stale == 0  # invalidated in Redis before A answered
