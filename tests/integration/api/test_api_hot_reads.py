"""A guest's availability read this process holds is answered before routing
(saveit.api.hot_reads), and nobody can tell: the same bytes and headers as the
routed endpoint, behind the same guards (request id, metrics, rate limits), and
anything it cannot read plainly goes to the endpoint, which validates it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.api.deps import container_of
from saveit.bootstrap import Container, build
from saveit.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.e2e.chaos_support import delete_prefix
from tests.integration.conftest import TcpProxy
from tests.metrics_support import value
from tests.support import FakeClock, demo_document

URL = "/v1/restaurants/demo/availability"
PLAIN = f"{URL}?date=2026-06-03&party_size=2"
ROUTE = "/v1/restaurants/{slug}/availability"


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def _without_id(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "x-request-id"}


def test_a_hit_answered_before_routing_is_the_endpoints_answer(api: TestClient) -> None:
    first = api.get(PLAIN)
    assert first.headers["X-SaveIt-Cache"] == "miss"
    fast = api.get(PLAIN)
    swapped = api.get(f"{URL}?party_size=2&date=2026-06-03")
    routed = api.get(f"{URL}?date=2026-06-03&party_size=2&utm=x")  # an extra parameter
    for answer in (fast, swapped, routed):
        assert answer.status_code == 200
        assert answer.headers["X-SaveIt-Cache"] == "hit"
        assert answer.content == first.content
        assert _without_id(answer.headers) == _without_id(routed.headers)
        assert answer.headers["x-request-id"]
    given = api.get(PLAIN, headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"


def test_what_it_cannot_read_plainly_is_validated_by_the_endpoint(api: TestClient) -> None:
    api.get(PLAIN)  # cached
    for query in (
        "date=2026-06-03&party_size=0",
        "date=2026-06-03&party_size=1001",
        "date=2026-02-30&party_size=2",
        "date=1900-06-03&party_size=2",
        "date=2026-06-03&party_size=02x",
    ):
        assert api.get(f"{URL}?{query}").status_code == 422, query
    assert (
        api.get("/v1/restaurants/nowhere/availability?date=2026-06-03&party_size=2").status_code
        == 404
    )
    leading_zero = api.get(f"{URL}?date=2026-06-03&party_size=02")  # the endpoint reads 2
    assert leading_zero.status_code == 200
    assert leading_zero.headers["X-SaveIt-Cache"] == "hit"
    wrong = api.get(PLAIN, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401  # a token is always checked, hit or not
    staff = api.get(PLAIN, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert staff.status_code == 200
    assert staff.content != api.get(PLAIN).content or "13:00" in staff.text


def test_hits_are_counted_under_the_route_template(api: TestClient) -> None:
    api.get(PLAIN)
    before = api.get("/metrics").text
    for _ in range(3):
        assert api.get(PLAIN).headers["X-SaveIt-Cache"] == "hit"
    after = api.get("/metrics").text
    labels = {"method": "GET", "route": ROUTE, "status": "200"}
    requests = "saveit_http_requests_total"
    assert value(after, requests, **labels) - value(before, requests, **labels) == 3
    hits = "saveit_availability_cache_total"
    assert value(after, hits, result="hit") - value(before, hits, result="hit") == 3


def _with_redis(
    settings: Settings, clock: FakeClock, url: str, prefix: str, **more: Any
) -> Container:
    """An API process's container on Redis under ``prefix`` (the demo not applied)."""
    update: dict[str, Any] = {
        "redis_url": SecretStr(url),
        "redis_prefix": prefix,
        "events_stream": f"{prefix}:events",
        **more,
    }
    return build(settings.model_copy(update=update), clock=clock, migrate=False)


@pytest.fixture
def limited(settings: Settings, clock: FakeClock, redis_url: str) -> Iterator[Container]:
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    container = _with_redis(settings, clock, redis_url, prefix, ratelimit_ip_per_minute=4)
    apply_spec(container.engine, parse_document(demo_document()))
    yield container
    container.close()
    delete_prefix(redis_url, prefix)


def test_hits_are_rate_limited_like_any_request(limited: Container) -> None:
    with TestClient(create_app(limited)) as api:
        answers = [api.get(PLAIN) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert [a.headers.get("X-SaveIt-Cache") for a in answers[:4]] == ["miss", "hit", "hit", "hit"]
    assert answers[4].headers["content-type"].startswith("application/problem+json")


@pytest.fixture
def two_processes(
    settings: Settings, clock: FakeClock, redis_url: str
) -> Iterator[tuple[Container, Container]]:
    """Two API processes' containers on one database and one Redis."""
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    first = _with_redis(settings, clock, redis_url, prefix)
    apply_spec(first.engine, parse_document(demo_document()))
    second = _with_redis(settings, clock, redis_url, prefix)
    yield first, second
    second.close()
    first.close()
    delete_prefix(redis_url, prefix)


def test_a_hit_only_redis_holds_is_answered_before_routing_too(
    two_processes: tuple[Container, Container],
) -> None:
    """Another process computed the day: this one reads it from Redis on the event
    loop, and the routed endpoint (its dependencies, its thread) is not reached."""
    first, second = two_processes
    with TestClient(create_app(first)) as a:
        computed = a.get(PLAIN)
        assert computed.headers["X-SaveIt-Cache"] == "miss"
    app = create_app(second)
    routed: list[str] = []

    async def counting(request: Request) -> Container:
        routed.append(request.url.path)
        return second

    app.dependency_overrides[container_of] = counting
    with TestClient(app) as b:
        assert b.get(f"{URL}?date=2026-06-04&party_size=2").status_code == 200  # loads the config
        routed.clear()
        held = b.get(PLAIN)
        assert held.status_code == 200
        assert held.headers["X-SaveIt-Cache"] == "hit"
        assert held.content == computed.content
        assert routed == []
        other_size = b.get(f"{URL}?date=2026-06-03&party_size=4")  # the miss filled it too
        assert other_size.headers["X-SaveIt-Cache"] == "hit"
        assert routed == []
        same_week = b.get(f"{URL}?date=2026-06-05&party_size=2")  # the miss filled its week
        assert same_week.headers["X-SaveIt-Cache"] == "hit"
        assert routed == []
        absent = b.get(f"{URL}?date=2026-06-10&party_size=2")  # the next week: nobody's
        assert absent.headers["X-SaveIt-Cache"] == "miss"
        assert routed == [URL]


def test_when_redis_fails_the_read_still_answers(
    settings: Settings, clock: FakeClock, redis_proxy: TcpProxy
) -> None:
    """Redis goes away between two reads of a day it held: the event loop's read
    fails, the routed endpoint bypasses the cache, and the guest gets the answer."""
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    container = _with_redis(settings, clock, url, prefix)
    apply_spec(container.engine, parse_document(demo_document()))
    try:
        with TestClient(create_app(container)) as api:
            computed = api.get(PLAIN)
            assert computed.headers["X-SaveIt-Cache"] == "miss"
            redis_proxy.down()
            answers = [api.get(PLAIN) for _ in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        assert all(a.content == computed.content for a in answers)
        assert answers[-1].headers["X-SaveIt-Cache"] == "bypass"  # the breaker opened
    finally:
        container.close()
