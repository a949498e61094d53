"""Chaos: the path to PostgreSQL is cut in the middle of a booking load, then restored.

The shared PostgreSQL server is never stopped: a loopback TCP proxy sits between
every SaveIt process (two ``saveit serve`` and a ``saveit worker``) and it, and
the test cuts it (live connections reset, new ones refused) for a few seconds.

While it is cut, requests fail fast with 503 problem+json, never a 500 and never
a hang; once it is back, the same processes book again without a restart. No
double booking, no lost 201, every outbox event published.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.chaos_support import (
    PG_BASE,
    AsyncTcpProxy,
    Processes,
    audit,
    booking_day,
    delete_prefix,
    fresh_database,
    run_load,
    saveit_env,
    shared_redis,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

LOAD_S = 14.0
CUT_AT_S = 3.0
RESTORE_AT_S = 6.5
RESUME_WITHIN_S = 3.0  # pools reconnect on their next checkout; a busy CI box is slow
FAST_S = 3.0  # connect timeout (2 s) plus slack; the clients give up at 5 s


def test_cutting_postgres_mid_load_gives_fast_503s_and_recovers(tmp_path: Path) -> None:
    redis_url = shared_redis()
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    processes = Processes(tmp_path)
    try:
        with fresh_database() as db, AsyncTcpProxy(urlsplit(PG_BASE).port or 5432) as proxy:
            parts = urlsplit(db)
            via_proxy = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
            env = saveit_env(
                SAVEIT_DATABASE_URL=via_proxy,
                SAVEIT_REDIS_URL=redis_url,
                SAVEIT_REDIS_PREFIX=prefix,
                SAVEIT_EVENTS_STREAM=f"{prefix}:events",
                SAVEIT_RATELIMIT_IP_PER_MINUTE="1000000",
                SAVEIT_RATELIMIT_GUEST_PER_HOUR="1000000",
                SAVEIT_RATELIMIT_CREATE_IP_PER_HOUR="1000000",
                SAVEIT_RATELIMIT_UNVERIFIED_PER_RESTAURANT_PER_HOUR="1000000",
            )
            processes.start("worker", ["worker"], env)
            a, b = processes.serve("api-a", env), processes.serve("api-b", env)
            # Days enough that the load cannot fill every table before the restore:
            # only a 201 after it proves bookings resumed.
            days = [booking_day(d).isoformat() for d in range(2, 50)]
            _, collect = run_load(tmp_path, [a, b], days, LOAD_S)
            started = time.time()
            time.sleep(max(0.0, started + CUT_AT_S - time.time()))
            proxy.cut()
            wait_until(lambda: _status(a) == 503, 5, "readyz to say the database is down")
            time.sleep(max(0.0, started + RESTORE_AT_S - time.time()))
            proxy.restore()
            restored = time.time()
            results = collect()
            wait_until(lambda: _status(a) == 200 and _status(b) == 200, 10, "recovery")
            created = [r["code"] for r in results if r.get("status") == 201]
            wait_until(lambda: audit(db, [])["unpublished"] == 0, 20, "the outbox to drain")
            found = audit(db, created)
    finally:
        processes.stop()
        delete_prefix(redis_url, prefix)

    cut = [
        r for r in results if started + CUT_AT_S + 0.2 <= r["at"] <= started + RESTORE_AT_S - 0.2
    ]
    # Measured from the actual restore: waiting for readyz may have pushed it late.
    after = [r for r in results if r["at"] >= restored + RESUME_WITHIN_S]
    unavailable = [r for r in results if r.get("status") == 503]
    assert [r for r in results if "error" in r] == [], "a request hung or failed to connect"
    assert {r["status"] for r in results} <= {201, 409, 503}, "only 503s may fail"
    assert all(r["type"].startswith("application/problem+json") for r in unavailable)
    assert all(r["problem"] == "SERVICE_UNAVAILABLE" for r in unavailable)
    assert max(r["seconds"] for r in results) < FAST_S
    assert cut, "no load while the database was away"
    assert all(r["status"] == 503 for r in cut), [
        (round(r["at"] - started, 2), r["status"], r.get("problem"))
        for r in cut
        if r["status"] != 503
    ]
    assert any(r["status"] == 201 for r in after), (
        "service did not resume",
        round(restored - started, 2),
        [(round(r["at"] - started, 2), r["status"], r.get("problem")) for r in after][:20],
    )
    assert found == {"overlaps": 0, "lost": 0, "unpublished": 0}


def _status(base: str) -> int:
    try:
        return httpx.get(f"{base}/readyz", timeout=4).status_code
    except httpx.HTTPError:
        return 0
