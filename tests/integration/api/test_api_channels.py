"""Channel accounts and conversations through the staff API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.domain.messages import InboundMessage, WebhookBatch
from tests.conftest import ADMIN_TOKEN
from tests.support import demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WA = {"phone_number_id": "104200000000001", "access_token": "EAAG-very-secret"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app answers guests itself here, as the embedded default does."""
    return settings.model_copy(update={"channel_workers_in_api": True})


def _conversations_once_answered(api: TestClient) -> list[dict[str, Any]]:
    """The app's own channel workers answer in the background: wait for them."""
    deadline = time.monotonic() + 10
    while True:
        found: list[dict[str, Any]] = api.get(
            "/v1/restaurants/demo/conversations", headers=ADMIN
        ).json()["conversations"]
        if found:
            conversation = api.get(
                f"/v1/restaurants/demo/conversations/{found[0]['id']}", headers=ADMIN
            ).json()
            if any(m["direction"] == "out" for m in conversation["messages"]):
                return found
        assert time.monotonic() < deadline
        time.sleep(0.02)


def guest_writes(container: Container, text: str) -> None:
    """A guest's WhatsApp message, as the webhook route hands it to the gateway."""
    assert container.gateway is not None
    message = InboundMessage(
        channel="whatsapp",
        provider_message_id="wamid.1",
        sender="+34600111222",
        recipient=WA["phone_number_id"],
        text=text,
        sent_at=datetime(2026, 6, 1).astimezone(),
    )
    container.gateway.receive(WebhookBatch(messages=[message]))


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def test_accounts_are_stored_and_their_secrets_never_come_back(api: TestClient) -> None:
    put = api.put("/v1/restaurants/demo/channels/whatsapp", json=WA, headers=ADMIN)
    assert put.status_code == 200
    listed = api.get("/v1/restaurants/demo/channels", headers=ADMIN)
    assert "EAAG-very-secret" not in put.text + listed.text
    assert listed.json()["channels"] == [
        {
            "channel": "whatsapp",
            "address": "104200000000001",
            "settings": {"access_token": "set"},
            "verification": {"state": "proven", "by": "admin", "at": "2026-06-01T09:00:00+00:00"},
        }
    ]


def test_an_sms_number_is_stored_in_e164(api: TestClient) -> None:
    put = api.put(
        "/v1/restaurants/demo/channels/sms", json={"number": "910 00 00 00"}, headers=ADMIN
    )
    assert put.json()["address"] == "+34910000000"


def test_a_number_cannot_belong_to_two_restaurants(api: TestClient, container: Container) -> None:
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Other")))
    assert (
        api.put("/v1/restaurants/demo/channels/whatsapp", json=WA, headers=ADMIN).status_code == 200
    )
    clash = api.put("/v1/restaurants/other/channels/whatsapp", json=WA, headers=ADMIN)
    assert clash.status_code == 409
    assert clash.json()["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        ("whatsapp", {"phone_number_id": "abc", "access_token": "x"}),
        ("whatsapp", {"phone_number_id": "1"}),
        ("sms", {"number": "hello"}),
        ("email", {"address": "not-an-address"}),
        ("instagram", {"account_id": "1", "access_token": "x", "extra": 1}),
    ],
)
def test_bad_account_bodies_are_422_and_change_nothing(
    api: TestClient, channel: str, body: dict[str, object]
) -> None:
    answer = api.put(f"/v1/restaurants/demo/channels/{channel}", json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert api.get("/v1/restaurants/demo/channels", headers=ADMIN).json()["channels"] == []


@pytest.mark.parametrize("token", ["tóken", "tok\u001fen"])
def test_an_access_token_that_cannot_be_sent_is_422(api: TestClient, token: str) -> None:
    """Fails before the fix: a token the provider's Authorization header cannot
    carry answered 500 (found once the PUT had a typed body the fuzzer could fill)."""
    body = {"phone_number_id": "1", "access_token": token}
    answer = api.put("/v1/restaurants/demo/channels/whatsapp", json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert api.get("/v1/restaurants/demo/channels", headers=ADMIN).json()["channels"] == []


def test_accounts_need_a_manager(api: TestClient) -> None:
    assert api.put("/v1/restaurants/demo/channels/whatsapp", json=WA).status_code == 401


def test_staff_read_a_conversation_answer_it_and_take_it_over(
    api: TestClient, container: Container
) -> None:
    api.put("/v1/restaurants/demo/channels/whatsapp", json=WA, headers=ADMIN)
    guest_writes(container, "¿Tenéis trona?")
    listed = _conversations_once_answered(api)
    assert [c["channels"] for c in listed] == [["whatsapp"]]
    conversation = listed[0]["id"]
    reply = api.post(
        f"/v1/restaurants/demo/conversations/{conversation}/messages",
        json={"text": "Sí, tenemos dos."},
        headers=ADMIN,
    )
    assert reply.status_code == 202
    assert reply.json()["channel"] == "whatsapp"
    taken = api.put(
        f"/v1/restaurants/demo/conversations/{conversation}/handoff",
        json={"active": True},
        headers=ADMIN,
    )
    assert taken.json()["handoff"] is True
    shown = api.get(f"/v1/restaurants/demo/conversations/{conversation}", headers=ADMIN).json()
    assert [(m["direction"], m["author"]) for m in shown["messages"]] == [
        ("in", "guest"),
        ("out", "bot"),
        ("out", "staff:admin"),
    ]
    assert shown["messages"][0]["text"] == "¿Tenéis trona?"


def test_another_restaurants_conversation_is_not_found(
    api: TestClient, container: Container
) -> None:
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Other")))
    api.put("/v1/restaurants/demo/channels/whatsapp", json=WA, headers=ADMIN)
    guest_writes(container, "hola")
    conversation = _conversations_once_answered(api)[0]["id"]
    assert (
        api.get(f"/v1/restaurants/other/conversations/{conversation}", headers=ADMIN).status_code
        == 404
    )
