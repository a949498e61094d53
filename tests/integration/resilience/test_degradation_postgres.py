"""PostgreSQL away: requests fail fast with 503 problem+json, and the same process
serves again once it is back. The database sits behind a loopback proxy that the
test cuts and restores; the shared server is never stopped."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.bootstrap import build
from saveit.config import Settings
from tests.e2e.chaos_support import PG_BASE, AsyncTcpProxy, booking_day, fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


def test_a_database_outage_gives_fast_503s_and_service_resumes_by_itself() -> None:
    with fresh_database() as url, AsyncTcpProxy(urlsplit(PG_BASE).port or 5432) as proxy:
        parts = urlsplit(url)
        via_proxy = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
        settings = Settings(
            database_url=via_proxy,
            secret_key="s",  # type: ignore[arg-type]
            relay_in_process=False,
        )
        container = build(settings, migrate=False)
        day = booking_day(3).isoformat()
        body = {"date": day, "party_size": 2, "name": "Ana", "email": "a@example.com"}
        with TestClient(create_app(container)) as api:
            made = api.post("/v1/restaurants/demo/reservations", json={**body, "time": "21:00"})
            assert made.status_code == 201, made.text
            proxy.cut()
            for path in ("/v1/restaurants/demo", "/readyz"):
                started = time.monotonic()
                down = api.get(path)
                assert time.monotonic() - started < 3.0
                assert down.status_code == 503, down.text
                assert down.headers["content-type"].startswith("application/problem+json")
                assert down.json()["code"] == "SERVICE_UNAVAILABLE"
                assert down.headers["Retry-After"]
            started = time.monotonic()
            refused = api.post("/v1/restaurants/demo/reservations", json={**body, "time": "21:15"})
            assert time.monotonic() - started < 3.0
            assert refused.status_code == 503, refused.text
            proxy.restore()
            deadline = time.monotonic() + 10
            while api.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "did not recover"
                time.sleep(0.2)
            again = api.post("/v1/restaurants/demo/reservations", json={**body, "time": "21:30"})
            assert again.status_code == 201, again.text
