"""Chaos: Redis dies in the middle of a booking load across processes, then returns.

Two ``saveit serve`` processes and a ``saveit worker`` on a fresh PostgreSQL
database and a private ``redis-server`` (never the shared one), four client
processes booking as fast as they can. The Redis server is killed a few
seconds in and started again (empty: no persistence) a few seconds later.

Afterwards: no double booking, every 201 a client saw is a confirmed booking,
every outbox event is published (and the ones published after the restart are
on the new server's stream), no request took anywhere near its timeout, and no
request failed because Redis was away.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from saveit.store.database import create_db_engine
from saveit.store.schema import outbox
from tests.e2e.chaos_support import (
    Processes,
    RedisServer,
    audit,
    booking_day,
    fresh_database,
    run_load,
    saveit_env,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

LOAD_S = 11.0
KILL_AT_S = 3.0
RESTART_AT_S = 7.0
SLOW_S = 2.0  # far above a healthy booking, far below the clients' 5 s timeout


def test_killing_redis_mid_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    processes = Processes(tmp_path)
    stream = f"saveit-chaos:{uuid.uuid4().hex}:events"
    try:
        with fresh_database() as db:
            env = saveit_env(
                SAVEIT_DATABASE_URL=db,
                SAVEIT_REDIS_URL=server.url,
                SAVEIT_EVENTS_STREAM=stream,
                SAVEIT_RATELIMIT_IP_PER_MINUTE="1000000",
                SAVEIT_RATELIMIT_GUEST_PER_HOUR="1000000",
                SAVEIT_RATELIMIT_CREATE_IP_PER_HOUR="1000000",
                SAVEIT_RATELIMIT_UNVERIFIED_PER_RESTAURANT_PER_HOUR="1000000",
            )
            processes.start("worker", ["worker"], env)
            a, b = processes.serve("api-a", env), processes.serve("api-b", env)
            days = [booking_day(d).isoformat() for d in range(2, 10)]
            _, collect = run_load(tmp_path, [a, b], days, LOAD_S)
            started = time.time()

            time.sleep(max(0.0, started + KILL_AT_S - time.time()))
            server.stop()
            killed_at = time.time()
            wait_until(lambda: _ready(a) == "degraded", 5, "A to report degraded")
            time.sleep(max(0.0, started + RESTART_AT_S - time.time()))
            restarted_at = time.time()
            server.start()
            results = collect()

            wait_until(lambda: _ready(a) == "ready" and _ready(b) == "ready", 10, "recovery")
            created = [r["code"] for r in results if r.get("status") == 201]
            wait_until(lambda: audit(db, [])["unpublished"] == 0, 20, "the outbox to drain")
            found = audit(db, created)
            stream_ids = _stream_event_ids(server.url, stream)
            held = _held_during_outage(db, killed_at, restarted_at)
    finally:
        processes.stop()
        server.stop()

    during = [r for r in results if started + KILL_AT_S <= r["at"] <= started + RESTART_AT_S]
    assert len(created) >= 20, f"too little load to mean anything: {len(results)} requests"
    assert len(during) >= 5, "no load while Redis was down"
    assert [r for r in results if "error" in r] == [], "a request failed or timed out"
    assert [r for r in results if r["status"] >= 500] == [], "Redis down must not fail requests"
    assert {r["status"] for r in results} <= {201, 409}
    assert max(r["seconds"] for r in results) < SLOW_S
    assert found == {"overlaps": 0, "lost": 0, "unpublished": 0}
    # Events committed while Redis was down waited in the outbox and went out after it returned.
    assert held, "no event was committed while Redis was down"
    assert all(after for after in held.values()), "an event went out while Redis was down"
    assert set(held) <= stream_ids, "events held during the outage are missing from the stream"
    assert any(r["status"] == 201 for r in during), "bookings stopped while Redis was down"


def _ready(base: str) -> str:
    try:
        return str(httpx.get(f"{base}/readyz", timeout=3).json()["status"])
    except (httpx.HTTPError, ValueError, KeyError):
        return "unknown"


def _stream_event_ids(url: str, stream: str) -> set[str]:
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
    try:
        return {fields["event_id"] for _, fields in client.xrange(stream)}
    finally:
        client.close()


def _held_during_outage(db: str, killed_at: float, restarted_at: float) -> dict[str, bool]:
    """Events committed while Redis was down -> whether each was published after it returned."""
    from datetime import UTC, datetime

    down = datetime.fromtimestamp(killed_at, UTC)
    back = datetime.fromtimestamp(restarted_at, UTC)
    engine = create_db_engine(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.event_id, outbox.c.published_at).where(
                    outbox.c.created_at > down, outbox.c.created_at < back
                )
            ).all()
            return {
                str(r.event_id): r.published_at is not None and r.published_at >= back for r in rows
            }
    finally:
        engine.dispose()
