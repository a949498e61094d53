"""The availability cache's fixtures: a container on either store (process memory
or a real Redis) with the demo restaurant, and an API on it."""

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
from saveit.cache import NearCache, RedisStore
from saveit.config import Settings
from saveit.resilience import CircuitBreaker, RedisGate
from tests.e2e.chaos_support import delete_prefix
from tests.integration.cache.support import Clock
from tests.support import FakeClock, demo_document


@pytest.fixture(params=["memory", "redis"])
def cached(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> Iterator[Container]:
    update: dict[str, Any] = {"config_recheck_s": 60.0}
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    url = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        update |= {
            "redis_url": SecretStr(url),
            "redis_prefix": prefix,
            "events_stream": f"{prefix}:events",
        }
    container = build(settings.model_copy(update=update), clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    yield container
    container.close()
    if url is not None:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def api(cached: Container) -> Iterator[TestClient]:
    with TestClient(create_app(cached)) as client:
        yield client


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"saveit-test:{uuid.uuid4().hex}"
    yield name
    delete_prefix(redis_url, name)


@pytest.fixture
def near(redis_url: str, prefix: str) -> Iterator[tuple[NearCache, Clock]]:
    """A process's near cache on a real Redis, on a clock the test moves."""
    clock = Clock()
    gate = RedisGate(redis_url, breaker=CircuitBreaker("t"))
    store = NearCache(RedisStore(gate, prefix), local_ttl_s=1.0, entry_ttl_s=30.0, clock=clock)
    yield store, clock
    gate.close()
