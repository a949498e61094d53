"""Sockets and streams authenticate without putting a secret in the URL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_webchat_ws import (  # noqa: F401 - fixtures
    chat_app,
    opening,
    responder,
)
from tests.integration.realtime.test_live_feed import api as live_api  # noqa: F401 - fixture


def test_the_live_feed_ignores_a_token_in_the_url(live_api: TestClient) -> None:  # noqa: F811
    """Fails before the fix: ``?access_token=`` opened the feed, and the token went to the
    access log with the URL."""
    url = f"/v1/restaurants/demo/live?access_token={ADMIN_TOKEN}"
    with live_api.websocket_connect(url) as ws:
        ws.send_json({"type": "ping"})  # anything but the auth frame
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    with live_api.websocket_connect("/v1/restaurants/demo/live") as ws:
        ws.send_json({"type": "auth", "token": ADMIN_TOKEN})
        assert ws.receive_json()["type"] == "snapshot"
    sse = live_api.get("/v1/restaurants/demo/live/sse", params={"access_token": ADMIN_TOKEN})
    assert sse.status_code == 401


def test_the_web_chat_session_is_not_taken_from_the_url(
    chat_app: tuple[TestClient, object],  # noqa: F811
) -> None:
    """Fails before the fix: ``?session=<token>`` restored the guest's conversation, so the
    session token (the guest's only credential) was in every access-log line."""
    api = chat_app[0]
    with api.websocket_connect("/ws/chat/demo", subprotocols=["saveit.chat"]) as ws:
        assert ws.accepted_subprotocol == "saveit.chat"
        token, _ = opening(ws)
    with api.websocket_connect(f"/ws/chat/demo?session={token}") as ws:
        fresh, _ = opening(ws)
    assert fresh != token
    offered = ["saveit.chat", f"saveit.session.{token}"]
    with api.websocket_connect("/ws/chat/demo", subprotocols=offered) as ws:
        again, _ = opening(ws)
    assert again == token
