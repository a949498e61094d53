"""Reading and booking through the API, as the availability cache's tests do."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from saveit.cache import NearCache

DAY = "2026-06-03"  # a Wednesday; the tests' clock starts on Monday 2026-06-01


def read(api: TestClient, party: int = 2, day: str = DAY, **headers: str) -> tuple[list[str], str]:
    got = api.get(
        "/v1/restaurants/demo/availability",
        params={"date": day, "party_size": party},
        headers=headers,
    )
    assert got.status_code == 200, got.text
    return [s["time"] for s in got.json()["slots"]], got.headers["X-SaveIt-Cache"]


def book(api: TestClient, at: str, party: int = 8, day: str = DAY) -> dict[str, Any]:
    made = api.post(
        "/v1/restaurants/demo/reservations",
        json={"date": day, "time": at, "party_size": party, "name": "Ana", "phone": "600111222"},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


class Clock:
    """A monotonic clock the test moves by hand (the near cache's ages)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def only_in_memory(store: NearCache, bucket: str) -> None:
    """Drop the Redis copy: what a read still finds came from process memory."""
    store.shared.gate.client.delete(store.shared.key_of(bucket))
