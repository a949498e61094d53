"""Staff tokens can be listed, revoked and expire; an open live socket of a revoked or
expired token closes; guests see a display name, never the token's name."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_channels_email_smtp import free_port
from tests.support import FakeClock, demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DAY = "/v1/restaurants/demo/reservations?date=2026-06-03"  # the day's bookings (host)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client: TestClient | httpx.Client, role: str = "host", **extra: object) -> dict[str, str]:
    made = client.post(
        "/v1/restaurants/demo/tokens",
        json={"role": role, "name": f"{role}-ana", **extra},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def test_an_owner_lists_the_tokens_without_their_secrets(api: TestClient) -> None:
    """Fails before the fix: there was no way to see which tokens exist (GET answered 405)."""
    host = issue(api, "host")
    owner = issue(api, "owner")
    listed = api.get("/v1/restaurants/demo/tokens", headers=bearer(owner["token"]))
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert [(r["name"], r["role"]) for r in rows] == [("host-ana", "host"), ("owner-ana", "owner")]
    assert set(rows[0]) == {
        "id", "name", "display_name", "role", "created_at", "expires_at", "revoked_at",
        "last_used_at",
    }  # fmt: skip
    # The owner's token was just used (to list); the host's never was.
    assert [r["last_used_at"] is not None for r in rows] == [False, True]
    assert host["token"] not in listed.text
    assert owner["token"] not in listed.text
    assert api.get("/v1/restaurants/demo/tokens", headers=bearer(host["token"])).status_code == 403


def test_a_revoked_token_stops_working_at_once(api: TestClient) -> None:
    """Fails before the fix: nothing wrote ``revoked_at``, so a leaked token stayed valid."""
    host = issue(api, "host")
    assert api.get(DAY, headers=bearer(host["token"])).status_code == 200
    (row,) = api.get("/v1/restaurants/demo/tokens", headers=ADMIN).json()
    assert api.delete(f"/v1/restaurants/demo/tokens/{row['id']}", headers=ADMIN).status_code == 204
    assert api.get(DAY, headers=bearer(host["token"])).status_code == 401
    (row,) = api.get("/v1/restaurants/demo/tokens", headers=ADMIN).json()
    assert row["revoked_at"] is not None
    assert api.delete("/v1/restaurants/demo/tokens/999", headers=ADMIN).status_code == 404


def test_a_token_expires(api: TestClient, clock: FakeClock) -> None:
    """Fails before the fix: staff tokens never expired."""
    host = issue(api, "host", ttl_days=1)
    default = issue(api, "host")
    days = api.app.state.container.settings.staff_token_ttl_days  # type: ignore[attr-defined]
    assert default["expires_at"] == (clock.now + timedelta(days=days)).isoformat()
    clock.advance(hours=23)
    assert api.get(DAY, headers=bearer(host["token"])).status_code == 200
    clock.advance(hours=1)
    assert api.get(DAY, headers=bearer(host["token"])).status_code == 401
    too_long = api.post(
        "/v1/restaurants/demo/tokens",
        json={"role": "host", "name": "x", "ttl_days": 100_000},
        headers=ADMIN,
    )
    assert too_long.status_code == 422


# --- live sockets over a real server ----------------------------------------------------


@contextmanager
def serving(settings: Settings, clock: FakeClock) -> Iterator[str]:
    """The app on a real uvicorn server on loopback, in this process."""
    quick = settings.model_copy(update={"live_token_recheck_s": 0.2})
    container = build(quick, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def subscribed(host: str, token: str) -> Iterator[ClientConnection]:
    """A dashboard's socket (the header here; browsers send the same in the first frame)."""
    headers = {"Authorization": f"Bearer {token}"}
    with connect(
        f"ws://{host}/v1/restaurants/demo/live", open_timeout=5, additional_headers=headers
    ) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        yield ws


def closed_code(ws: ClientConnection, within_s: float = 3.0) -> int | None:
    """The close code of ``ws``, which must close within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            ws.recv(timeout=left)
    except ConnectionClosed:
        return ws.close_code
    except TimeoutError:
        pass
    raise AssertionError(f"the socket was still open after {within_s} s")


def test_revoking_a_token_closes_its_open_live_sockets(
    settings: Settings, clock: FakeClock
) -> None:
    """Fails before the fix: a dashboard that was open kept receiving every booking after
    its token was revoked (nothing re-checked it)."""
    with serving(settings, clock) as host, httpx.Client(base_url=f"http://{host}") as http:
        token = issue(http, "host")["token"]
        keeper = issue(http, "host")["token"]
        with subscribed(host, token) as revoked, subscribed(host, keeper) as kept:
            (row, _) = http.get("/v1/restaurants/demo/tokens", headers=ADMIN).json()
            gone = http.delete(f"/v1/restaurants/demo/tokens/{row['id']}", headers=ADMIN)
            assert gone.status_code == 204
            assert closed_code(revoked) == 4401
            with pytest.raises(TimeoutError):
                kept.recv(timeout=0.6)  # the other token's socket stays open


def test_an_expiring_token_closes_its_open_live_socket(
    settings: Settings, clock: FakeClock
) -> None:
    """Fails before the fix: tokens had no expiry, and an open socket was never re-checked."""
    with serving(settings, clock) as host, httpx.Client(base_url=f"http://{host}") as http:
        token = issue(http, "host", ttl_days=1)["token"]
        with subscribed(host, token) as ws:
            clock.advance(days=1)
            assert closed_code(ws) == 4401
