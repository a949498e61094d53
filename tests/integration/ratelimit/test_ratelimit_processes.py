"""A rate limit is one budget across API processes that share Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.chaos_support import (
    Processes,
    booking_day,
    delete_prefix,
    fresh_database,
    saveit_env,
    shared_redis,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def test_the_limits_hold_across_two_processes(tmp_path: Path) -> None:
    url = shared_redis()
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    processes = Processes(tmp_path)
    try:
        with fresh_database() as db:
            env = saveit_env(
                SAVEIT_DATABASE_URL=db,
                SAVEIT_REDIS_URL=url,
                SAVEIT_REDIS_PREFIX=prefix,
                SAVEIT_EVENTS_STREAM=f"{prefix}:events",
                SAVEIT_RATELIMIT_IP_PER_MINUTE="10",
                SAVEIT_RATELIMIT_GUEST_PER_HOUR="3",
            )
            a, b = processes.serve("api-a", env), processes.serve("api-b", env)
            day = booking_day(3).isoformat()
            with httpx.Client(timeout=10) as client:
                made = [
                    client.post(
                        f"{base}/v1/restaurants/demo/reservations",
                        json={
                            "date": day,
                            "time": at,
                            "party_size": 2,
                            "name": "Ana",
                            "phone": "600111222",
                        },
                    )
                    for base, at in ((a, "20:00"), (b, "20:15"), (a, "20:30"), (b, "20:45"))
                ]
                assert [r.status_code for r in made] == [201, 201, 201, 429]
                assert made[3].json()["code"] == "RATE_LIMITED"
                assert int(made[3].headers["Retry-After"]) > 0
                # The per-IP budget (10/min): 4 used above; alternate processes for the rest.
                codes = [
                    client.get(f"{(a, b)[i % 2]}/v1/restaurants/demo").status_code for i in range(8)
                ]
            assert codes == [200] * 6 + [429] * 2
    finally:
        processes.stop()
        delete_prefix(url, prefix)
