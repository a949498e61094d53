"""Guests see the name a token was given for them, never the token's own name."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from saveit.bootstrap import Container
from saveit.store.schema import conversations
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_webchat_ws import (  # noqa: F401 - fixtures
    api,
    chat_app,
    container,
    is_,
    opening,
    responder,
    say,
    until,
)
from tests.integration.channels.test_webchat_ws import connect as chat

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def issue(client: TestClient, **extra: object) -> str:
    made = client.post(
        "/v1/restaurants/demo/tokens",
        json={"role": "host", "name": "host-ana", **extra},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def test_guests_see_the_display_name_not_the_tokens_name(api: TestClient) -> None:  # noqa: F811
    """Fails before the fix: a staff reply reached the guest's widget as "staff:<token
    name>" (here "staff:host-ana"), whatever the owner had named the token."""
    built: Container = api.app.state.container  # type: ignore[attr-defined]
    named = issue(api, display_name="Marta")
    plain = issue(api)

    with chat(api) as ws:
        opening(ws)
        say(ws, "g-1", "¿Tenéis terraza?")
        until(ws, is_("message"))
        with built.engine.connect() as conn:
            conversation_id = conn.execute(select(conversations.c.id)).scalar_one()
        authors = []
        for token, text in ((named, "Sí"), (plain, "Claro")):
            sent = api.post(
                f"/v1/restaurants/demo/conversations/{conversation_id}/messages",
                json={"text": text},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert sent.status_code == 202, sent.text
            assert sent.json()["author"] == "staff:host-ana"  # staff still see who wrote
            authors.append(
                until(ws, lambda f, t=text: f["type"] == "message" and f["message"]["text"] == t)[
                    "message"
                ]["author"]
            )
    assert authors == ["staff:Marta", "staff"]
