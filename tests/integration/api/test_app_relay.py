"""The embedded default has no worker: the API process itself relays the outbox."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import build
from saveit.config import Settings
from tests.support import FakeClock, demo_document


def test_a_booking_reaches_the_in_process_bus_without_a_worker(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    embedded = settings.model_copy(update={"relay_in_process": None, "redis_url": None})
    assert embedded.runs_relay_in_process
    container = build(embedded, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    container.bus.ensure_group("watcher")
    with TestClient(create_app(container)) as api:
        made = api.post(
            "/v1/restaurants/demo/reservations",
            json={
                "date": "2026-06-03",
                "time": "21:00",
                "party_size": 2,
                "name": "Ana",
                "phone": "600111222",
            },
        )
        assert made.status_code == 201, made.text
        code = made.json()["reservation"]["code"]
        deadline = time.monotonic() + 10
        seen: list[str] = []
        while time.monotonic() < deadline and not seen:
            for delivery in container.bus.read("watcher", "test", block_ms=200):
                if delivery.event.payload["reservation"]["code"] == code:
                    seen.append(delivery.event.type)
    assert seen == ["reservation.created"]
