"""Redis trouble never stops bookings: the circuit breaker's state machine, a Redis
that is not there at all, and an outage with recovery (including the
invalidations that could not be sent while it lasted)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.resilience import BreakerState, CircuitBreaker
from tests.integration.conftest import DEAD_REDIS_URL, TcpProxy
from tests.support import FakeClock, demo_document

DAY = "2026-06-03"


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_the_threshold_and_half_opens_for_one_trial() -> None:
    ticks = Ticks()
    breaker = CircuitBreaker("t", failure_threshold=3, reset_timeout_s=2.0, clock=ticks)
    assert breaker.state is BreakerState.CLOSED
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    ticks.now += 1.9
    assert not breaker.allow()
    ticks.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the one trial
    assert not breaker.allow()  # everyone else still skips
    breaker.record_failure()  # the trial failed: open again, for a full period
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    ticks.now += 2.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.allow()
    assert breaker.opened_count == 2


def test_an_abandoned_trial_is_replaced_after_the_reset_timeout() -> None:
    ticks = Ticks()
    breaker = CircuitBreaker("t", failure_threshold=1, reset_timeout_s=1.0, clock=ticks)
    breaker.record_failure()
    ticks.now += 1.0
    assert breaker.allow()  # the trial's caller never reports back
    assert not breaker.allow()
    ticks.now += 1.0
    assert breaker.allow()


def test_the_breaker_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("t", failure_threshold=0)


def _container(settings: Settings, clock: FakeClock, redis_url: str, **extra: Any) -> Container:
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    update: dict[str, Any] = {
        "redis_url": SecretStr(redis_url),
        "redis_prefix": prefix,
        "events_stream": f"{prefix}:events",
        "redis_breaker_reset_s": 0.5,
        **extra,
    }
    container = build(settings.model_copy(update=update), clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    return container


def _book(api: TestClient, at: str, party: int = 8) -> Any:
    return api.post(
        "/v1/restaurants/demo/reservations",
        json={"date": DAY, "time": at, "party_size": party, "name": "Ana", "phone": "600111222"},
    )


def _times(api: TestClient, party: int = 8) -> tuple[list[str], str]:
    got = api.get("/v1/restaurants/demo/availability", params={"date": DAY, "party_size": party})
    assert got.status_code == 200, got.text
    return [s["time"] for s in got.json()["slots"]], got.headers["X-SaveIt-Cache"]


@pytest.fixture
def dead_redis(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    container = _container(settings, clock, DEAD_REDIS_URL)
    with TestClient(create_app(container)) as api:
        yield api


def test_with_redis_at_a_closed_port_everything_works_fast_and_readyz_says_degraded(
    dead_redis: TestClient,
) -> None:
    api = dead_redis
    timings: list[float] = []
    for i in range(6):
        started = time.monotonic()
        times, how = _times(api)
        timings.append(time.monotonic() - started)
        assert how == "bypass"
        assert "21:00" in times or i > 0
        started = time.monotonic()
        made = _book(api, f"{13 + i // 4}:{(i % 4) * 15:02d}", party=2)
        timings.append(time.monotonic() - started)
        assert made.status_code == 201, made.text
    assert max(timings) < 1.0, timings
    started = time.monotonic()
    ready = api.get("/readyz")
    assert time.monotonic() - started < 1.0
    assert ready.status_code == 200
    assert ready.json() == {"status": "degraded", "database": "ok", "redis": "down"}
    container: Container = api.app.state.container  # type: ignore[attr-defined]
    assert container.redis_gate is not None
    assert container.redis_gate.breaker.opened_count >= 1


def test_an_outage_and_recovery_lose_no_invalidation(
    settings: Settings, clock: FakeClock, redis_url: str, redis_proxy: TcpProxy
) -> None:
    container = _container(settings, clock, f"redis://127.0.0.1:{redis_proxy.port}/0")
    with TestClient(create_app(container)) as api:
        assert api.get("/readyz").json()["redis"] == "ok"
        assert _times(api)[1] == "miss"
        cached, how = _times(api)
        assert how == "hit"
        assert "21:00" in cached
        redis_proxy.down()
        made = _book(api, "21:00")  # its invalidation cannot reach Redis: deferred
        assert made.status_code == 201, made.text
        times, how = _times(api)
        assert how == "bypass"
        assert "21:00" not in times
        assert api.get("/readyz").json() == {
            "status": "degraded",
            "database": "ok",
            "redis": "down",
        }
        redis_proxy.up()
        deadline = time.monotonic() + 5
        while api.get("/readyz").json()["status"] != "ready":
            assert time.monotonic() < deadline, "never recovered"
            time.sleep(0.1)
        times, how = _times(api)
        assert how in {"miss", "hit"}
        assert "21:00" not in times  # the stale pre-outage entry was not served
        assert container.availability is not None
        assert container.availability.stats.deferred >= 1


def test_rate_limits_fall_back_to_process_memory_without_redis(
    settings: Settings, clock: FakeClock
) -> None:
    container = _container(settings, clock, DEAD_REDIS_URL, ratelimit_ip_per_minute=5)
    with TestClient(create_app(container)) as api:
        codes = [api.get("/v1/restaurants/demo").status_code for _ in range(8)]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429] * 3
    assert container.limiter is not None
    assert container.limiter.fallbacks >= 1


def test_redis_that_hangs_costs_at_most_the_op_timeout_until_the_breaker_opens(
    settings: Settings, clock: FakeClock
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # accepts connections, never answers
    try:
        port = silent.getsockname()[1]
        container = _container(
            settings, clock, f"redis://127.0.0.1:{port}/0", redis_breaker_reset_s=30.0
        )
        with TestClient(create_app(container)) as api:
            timings = []
            for _ in range(8):
                started = time.monotonic()
                assert api.get("/v1/restaurants/demo").status_code == 200
                timings.append(time.monotonic() - started)
        assert max(timings) < 1.0, timings
        assert sum(t > 0.2 for t in timings[3:]) == 0, timings  # the breaker is open by then
    finally:
        silent.close()


def test_readyz_reports_redis_ok_when_it_answers(
    settings: Settings, clock: FakeClock, redis_url: str
) -> None:
    container = _container(settings, clock, redis_url)
    with TestClient(create_app(container)) as api:
        assert api.get("/readyz").json() == {"status": "ready", "database": "ok", "redis": "ok"}
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{container.settings.redis_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
