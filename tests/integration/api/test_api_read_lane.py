"""A guest's availability read does not wait for a request thread. A booking holds
one for its whole transaction, so under a burst of bookings a read that needed
one queued behind them: a miss is computed on a lane of its own
(``SAVEIT_READ_THREADS``), and the rate limits' check runs on the event loop
(counted in memory) or on its own lane (counted in Redis)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.config import Settings

READ = "/v1/restaurants/demo/availability?date=2026-06-03&party_size=2"


@pytest.fixture(params=["counted-in-memory", "counted-in-redis"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """One request thread, one read thread, rate limits on."""
    update: dict[str, object] = {"request_threads": 1, "read_threads": 1}
    if request.param == "counted-in-redis":
        url: str = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_stream").removesuffix(":events")
        update |= {
            "redis_url": SecretStr(url),
            "redis_prefix": prefix,
            "events_stream": f"{prefix}:events",
        }
    return settings.model_copy(update=update)  # redis_stream deletes the prefix's keys


def test_reads_are_answered_while_every_request_thread_is_held(
    container: Container, demo: str
) -> None:
    assert container.limiter.enabled
    app = create_app(container)
    entered, release = threading.Event(), threading.Event()

    # Stands for a booking in its transaction: a sync endpoint on the request
    # threads (here, the only one) that holds its thread until released.
    @app.get("/test/hold")
    def hold() -> dict[str, bool]:
        entered.set()
        return {"released": release.wait(30)}

    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        held = pool.submit(client.get, "/test/hold")
        try:
            assert entered.wait(10), "the holding request never reached its thread"
            miss = pool.submit(client.get, READ).result(timeout=10)
            hit = pool.submit(client.get, READ).result(timeout=10)
        finally:
            release.set()
        assert held.result(timeout=10).json() == {"released": True}
    assert (miss.status_code, miss.headers["X-SaveIt-Cache"]) == (200, "miss")
    assert (hit.status_code, hit.headers["X-SaveIt-Cache"]) == (200, "hit")
    assert hit.content == miss.content
