"""A guest's booking does not wait for a request thread: bookings run on threads of
their own (``saveit.api.lanes``), so a page that holds every request thread — a
staff export, a slow console screen — does not hold up the bookings behind it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.config import Settings
from tests.integration.api.held import request_thread_held

BOOK = "/v1/restaurants/demo/reservations"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One request thread: one slow page holds them all."""
    return settings.model_copy(update={"request_threads": 1})


def test_a_booking_is_made_while_every_request_thread_is_held(
    container: Container, demo: str
) -> None:
    app = create_app(container)
    guests = [
        {"date": "2026-06-03", "time": at, "party_size": 2, "name": name, "phone": phone}
        for at, name, phone in (("20:00", "Ana", "600111222"), ("20:30", "Bea", "600333444"))
    ]
    with (
        TestClient(app) as client,
        ThreadPoolExecutor(3) as pool,
        request_thread_held(app, client, pool),
    ):
        made = [pool.submit(client.post, BOOK, json=guest) for guest in guests]
        answers = [future.result(timeout=10) for future in made]
    assert [answer.status_code for answer in answers] == [201, 201], answers[0].text
    codes = {answer.json()["reservation"]["code"] for answer in answers}
    assert len(codes) == 2
