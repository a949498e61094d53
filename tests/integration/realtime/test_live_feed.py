"""The live feed inside one process (the embedded default's shape), on SQLite and
PostgreSQL: snapshot, live changes, availability days, replay, refusals, slow clients."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.realtime.hub import SHUTDOWN, SLOW, LiveHub, Subscription
from saveit.realtime.messages import LiveMessage
from saveit.realtime.sources import OutboxPoller
from saveit.store import tokens
from saveit.store.restaurants import id_of
from saveit.store.schema import outbox
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

BOOKING = {"date": "2026-06-03", "time": "21:00", "party_size": 2, "name": "Ana"}


@pytest.fixture
def api(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """The embedded default: no Redis, the relay and the hub inside the app."""
    embedded = settings.model_copy(update={"relay_in_process": None, "redis_url": None})
    container = build(embedded, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Other")))
    with TestClient(create_app(container)) as client:
        yield client


@contextmanager
def live(
    api: TestClient, query: str = "", token: str | None = ADMIN_TOKEN
) -> Iterator[WebSocketTestSession]:
    """A browser-like subscriber: the token goes in the first frame, not the URL."""
    with api.websocket_connect(f"/v1/restaurants/demo/live?{query}") as ws:
        ws.send_json({"type": "auth", "token": token} if token else {"type": "auth"})
        yield ws


def book(api: TestClient, phone: str, **changes: Any) -> dict[str, Any]:
    made = api.post(
        "/v1/restaurants/demo/reservations", json={**BOOKING, "phone": phone, **changes}
    )
    assert made.status_code == 201, made.text
    reservation: dict[str, Any] = made.json()["reservation"]
    return reservation


def skip_until(ws: WebSocketTestSession, type_: str) -> dict[str, Any]:
    """The next message of ``type_``; an earlier booking's event may still be in flight."""
    while (message := ws.receive_json())["type"] != type_:
        pass
    found: dict[str, Any] = message
    return found


def test_a_subscriber_gets_a_snapshot_then_changes_and_their_availability(
    api: TestClient,
) -> None:
    existing = book(api, "600000001")
    with live(api, "date=2026-06-03") as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert [r["code"] for r in snapshot["reservations"]] == [existing["code"]]
        made = book(api, "600000002", time="21:15")
        created = ws.receive_json()
        if created["reservation"]["code"] == existing["code"]:
            # Published after the snapshot was read: sent again, which is harmless
            # (the client applies it by code and version).
            ws.receive_json()
            created = ws.receive_json()
        availability = ws.receive_json()
    assert created["type"] == "reservation.created"
    assert created["reservation"]["code"] == made["code"]
    assert created["position"] > snapshot["position"]
    assert availability["type"] == "availability.changed"
    assert availability["date"] == "2026-06-03"
    assert availability["position"] == created["position"]


def test_a_move_to_another_day_changes_the_availability_of_both_days(api: TestClient) -> None:
    made = book(api, "600000003")
    with live(api) as ws:
        ws.receive_json()  # snapshot
        moved = api.patch(
            f"/v1/reservations/{made['code']}",
            json={"date": "2026-06-05", "time": "13:30"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert moved.status_code == 200, moved.text
        messages = [skip_until(ws, "reservation.modified"), ws.receive_json(), ws.receive_json()]
    assert messages[0]["type"] == "reservation.modified"
    assert messages[0]["before"]["start"] != messages[0]["reservation"]["start"]
    assert [(m["type"], m["date"]) for m in messages[1:]] == [
        ("availability.changed", "2026-06-03"),
        ("availability.changed", "2026-06-05"),
    ]


def test_since_replays_exactly_what_was_missed(api: TestClient) -> None:
    with live(api) as ws:
        ws.receive_json()  # snapshot
        book(api, "600000004")
        ws.receive_json()
        last = ws.receive_json()["position"]
    missed = [book(api, f"60000001{i}", time=t)["code"] for i, t in enumerate(("20:00", "22:00"))]
    with live(api, f"since={last}") as ws:
        replay = [ws.receive_json() for _ in range(4)]
    assert [m["type"] for m in replay] == ["reservation.created", "availability.changed"] * 2
    assert [m["reservation"]["code"] for m in replay[::2]] == missed


def test_a_host_token_of_the_restaurant_subscribes_and_others_are_refused(
    api: TestClient,
) -> None:
    container = api.app.state.container  # type: ignore[attr-defined]
    with container.engine.begin() as conn:
        now = datetime.now(UTC)
        host = tokens.issue(conn, id_of(conn, "demo"), role="host", name="h", now=now)
        other = tokens.issue(conn, id_of(conn, "other"), role="owner", name="o", now=now)
    with api.websocket_connect(
        "/v1/restaurants/demo/live", headers={"Authorization": f"Bearer {host}"}
    ) as ws:
        assert ws.receive_json()["type"] == "snapshot"
    for token, code in ((None, 4401), ("nope", 4401), (other, 4403)):
        with live(api, token=token) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == code
    refused = api.get("/v1/restaurants/demo/live/sse", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 403


def _message(position: int) -> LiveMessage:
    return LiveMessage(1, position, f"e{position}", "reservation.created", "{}")


def test_a_slow_subscriber_is_dropped_without_holding_up_the_others() -> None:
    async def scenario() -> tuple[Subscription, Subscription, list[int]]:
        hub = LiveHub.__new__(LiveHub)  # the fan-out alone: no feed thread
        hub.queue_size = 8
        hub.delivered = 0
        hub._subs = defaultdict(set)
        slow, fast = hub.subscribe(1), hub.subscribe(1)
        got: list[int] = []
        for position in range(1, 21):
            hub._fan_out([_message(position)])
            message = await fast.next()
            assert message is not None
            got.append(message.position)
        assert hub.subscribers() == 1  # the slow one is gone
        return slow, fast, got

    slow, fast, got = asyncio.run(scenario())
    assert slow.reason == SLOW
    assert slow.queue.get_nowait() is None  # emptied, then closed
    assert fast.reason is None
    assert got == list(range(1, 21))
    fast.close(SHUTDOWN)
    assert fast.reason == SHUTDOWN


def test_the_outbox_poller_picks_up_a_late_commit_below_what_it_already_read(
    api: TestClient,
) -> None:
    container = api.app.state.container  # type: ignore[attr-defined]
    poller = OutboxPoller(container.engine)
    poller.reset(poller.head())
    base = poller.cursor
    with container.engine.begin() as conn:
        restaurant_id = id_of(conn, "demo")

    def row(offset: int) -> dict[str, Any]:
        return {
            "id": base + 1000 + offset,
            "event_id": f"00000000-0000-0000-0000-{offset:012d}",
            "restaurant_id": restaurant_id,
            "type": "reservation.created",
            "payload": {"reservation": {}},
            "created_at": datetime.now(UTC),
            "published_at": datetime.now(UTC),  # keep the in-process relay out of it
        }

    with container.engine.begin() as conn:
        conn.execute(insert(outbox), [row(1), row(3)])
    assert [e.outbox_id - base - 1000 for e in poller.poll()] == [1, 3]
    with container.engine.begin() as conn:  # id 2 commits late
        conn.execute(insert(outbox), [row(2)])
    assert [e.outbox_id - base - 1000 for e in poller.poll()] == [2]
    assert poller.poll() == []
