"""Rate limits: the GCRA arithmetic, Redis and memory alike, and the 429s the API
answers per IP, per token and per guest identity."""

from __future__ import annotations

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
from saveit.ratelimit import MemoryGcra, RedisGcra, Rule
from saveit.resilience import CircuitBreaker, RedisGate
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_gcra_allows_a_burst_of_limit_then_one_per_interval() -> None:
    ticks = Ticks()
    gcra = MemoryGcra(clock=ticks)
    rule = Rule("r", limit=4, period_s=60)  # one every 15 s, bursts of 4
    assert [gcra.hit(rule, "a").allowed for _ in range(5)] == [True] * 4 + [False]
    refused = gcra.hit(rule, "a")
    assert refused.retry_after_s == pytest.approx(15.0)
    assert refused.retry_after_header == "15"
    assert gcra.hit(rule, "b").allowed  # identities are independent
    ticks.now += 15
    assert gcra.hit(rule, "a").allowed
    assert not gcra.hit(rule, "a").allowed
    ticks.now += 60
    assert [gcra.hit(rule, "a").allowed for _ in range(5)] == [True] * 4 + [False]


def test_memory_gcra_stays_bounded() -> None:
    ticks = Ticks()
    gcra = MemoryGcra(max_keys=10, clock=ticks)
    rule = Rule("r", limit=1, period_s=1)
    for i in range(100):
        gcra.hit(rule, str(i))
        ticks.now += 0.001
    assert len(gcra._tat) <= 10


@pytest.fixture
def gate(redis_url: str) -> Iterator[tuple[RedisGate, str]]:
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    gate = RedisGate(redis_url, breaker=CircuitBreaker("t"))
    yield gate, prefix
    keys = list(gate.client.scan_iter(match=f"{prefix}*"))
    if keys:
        gate.client.delete(*keys)
    gate.close()


def test_redis_gcra_is_one_budget_for_every_client(gate: tuple[RedisGate, str]) -> None:
    shared, prefix = gate
    other = RedisGate(_url(shared), breaker=CircuitBreaker("u"))
    try:
        first, second = RedisGcra(shared, prefix), RedisGcra(other, prefix)
        rule = Rule("r", limit=5, period_s=60)
        allowed = [(first if i % 2 else second).hit(rule, "x").allowed for i in range(8)]
        assert allowed == [True] * 5 + [False] * 3
        refused = first.hit(rule, "x")
        assert 11 <= refused.retry_after_s <= 12.5
        assert shared.client.pttl(f"{prefix}:rl:r:x") > 0  # idle identities expire
    finally:
        other.close()


def _url(gate: RedisGate) -> str:
    kwargs = gate.client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


@pytest.fixture
def limited(settings: Settings, clock: FakeClock, redis_url: str) -> Iterator[Container]:
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    update: dict[str, Any] = {
        "redis_url": SecretStr(redis_url),
        "redis_prefix": prefix,
        "events_stream": f"{prefix}:events",
        "ratelimit_ip_per_minute": 6,
        "ratelimit_token_per_minute": 3,
        "ratelimit_guest_per_hour": 2,
    }
    container = build(settings.model_copy(update=update), clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    yield container
    container.close()
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _assert_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert body["status"] == 429
    assert body["retry_after"] == int(response.headers["Retry-After"])


def test_the_api_limits_per_ip_and_exempts_the_probes(limited: Container) -> None:
    with TestClient(create_app(limited)) as api:
        codes = [api.get("/v1/restaurants/demo").status_code for _ in range(6)]
        assert codes == [200] * 6
        _assert_limited(api.get("/v1/restaurants/demo"))
        _assert_limited(api.get("/no/such/route"))  # refused before routing
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200


def test_the_api_limits_per_token(limited: Container) -> None:
    staff = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(limited)) as api:
        codes = [
            api.get("/v1/restaurants/demo/tables", headers=staff).status_code for _ in range(3)
        ]
        assert codes == [200] * 3
        _assert_limited(api.get("/v1/restaurants/demo/tables", headers=staff))


def test_the_api_limits_creates_per_guest_phone_or_email(limited: Container) -> None:
    assert limited.limiter is not None
    limited.limiter.ip = Rule("ip", 1000, 60)
    with TestClient(create_app(limited)) as api:

        def book(at: str, **who: str) -> Any:
            return api.post(
                "/v1/restaurants/demo/reservations",
                json={"date": "2026-06-03", "time": at, "party_size": 2, "name": "A", **who},
            )

        assert book("13:00", phone="600 111 222").status_code == 201
        assert book("13:15", phone="+34600111222", email="x@example.com").status_code == 201
        _assert_limited(book("13:30", phone="600111222"))  # the same phone, written otherwise
        assert book("13:30", email="X@Example.com").status_code == 201  # its 2nd use
        _assert_limited(book("13:45", email="x@example.com"))  # the same email, 3rd use
        assert book("13:30", phone="611000000").status_code == 201
