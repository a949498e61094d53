"""A channel address routes for a restaurant only once it proved the address is its own.

The Graph API's stand-in on loopback confirms a WhatsApp number id or Instagram
account only for the token that may use it; a real SMTP server stands in for the
relay that carries the email code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.store import restaurants as restaurant_store
from saveit.store import tokens
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_channels_email_smtp import CaptureHandler
from tests.recording_http import Recorded, recording_server
from tests.support import FakeClock, demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NUMBER_ID = "104200000000001"
IG_ID = "17841400000000001"
TOKENS = {"demo-token": NUMBER_ID, "demo-ig-token": IG_ID, "other-token": NUMBER_ID}


def graph_answer(request: Recorded) -> tuple[int, Any]:
    """Meta's node read: the number or account, if the bearer token may use it."""
    node = urlsplit(request.path).path.rsplit("/", 1)[-1]
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if TOKENS.get(token) == node:
        return 200, {"id": node, "display_phone_number": "+34 910 00 00 00"}
    return 400, {"error": {"message": "Unsupported get request", "code": 100}}


@pytest.fixture
def graph() -> Iterator[Any]:
    with recording_server(graph_answer) as server:
        yield server


@pytest.fixture
def app(
    settings: Settings, clock: FakeClock, graph: Any, relay: tuple[CaptureHandler, int]
) -> Iterator[tuple[TestClient, Container]]:
    configured = settings.model_copy(
        update={
            "graph_api_base": graph.url,
            "smtp_relay_host": "127.0.0.1",
            "smtp_relay_port": relay[1],
            "smtp_relay_starttls": False,
        }
    )
    container = build(configured, clock=clock, migrate=False)
    for slug in ("demo", "other"):
        apply_spec(container.engine, parse_document(demo_document(slug=slug, name=slug.title())))
    with TestClient(create_app(container)) as client:
        yield client, container
    container.close()


def manager(container: Container, slug: str, clock: FakeClock) -> dict[str, str]:
    with container.engine.begin() as conn:
        token = tokens.issue(
            conn, restaurant_store.id_of(conn, slug), role="manager", name="m", now=clock()
        )
    return {"Authorization": f"Bearer {token}"}


def routed_to(container: Container, channel: str, address: str) -> str | None:
    """Which restaurant (slug) a message to ``address`` would reach, as the webhook routes do."""
    assert container.gateway is not None
    container.gateway.directory.forget()
    account = container.gateway.route(channel, address)
    if account is None:
        return None
    with container.engine.connect() as conn:
        for slug in ("demo", "other"):
            if restaurant_store.id_of(conn, slug) == account.restaurant_id:
                return slug
    raise AssertionError("routed to an unknown restaurant")


def mailed_code(relay: tuple[CaptureHandler, int], to: str) -> str:
    for captured in reversed(relay[0].messages):
        if to in captured.rcpt_tos:
            mail = message_from_bytes(captured.data, policy=policy.default)
            body = mail.get_body(preferencelist=("plain",))
            assert body is not None
            found = re.search(r"\b(\d{6})\b", body.get_content())
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no code was mailed to {to}")


def test_a_whatsapp_number_the_graph_api_refuses_is_not_taken_and_routes_nowhere(
    app: tuple[TestClient, Container], clock: FakeClock
) -> None:
    """Fails before the fix: any manager's claim was stored (200) and routed the
    number's guests to the claiming restaurant at once."""
    client, container = app
    squatter = manager(container, "other", clock)
    stolen = client.put(
        "/v1/restaurants/other/channels/whatsapp",
        json={"phone_number_id": IG_ID, "access_token": "other-token"},
        headers=squatter,
    )
    assert stolen.status_code == 422, stolen.text
    assert stolen.json()["code"] == "CHANNEL_NOT_PROVEN"
    assert routed_to(container, "whatsapp", IG_ID) is None
    assert client.get("/v1/restaurants/other/channels", headers=squatter).json()["channels"] == []


def test_a_whatsapp_number_the_graph_api_confirms_routes_at_once(
    app: tuple[TestClient, Container], clock: FakeClock, graph: Any
) -> None:
    client, container = app
    put = client.put(
        "/v1/restaurants/demo/channels/whatsapp",
        json={"phone_number_id": NUMBER_ID, "access_token": "demo-token"},
        headers=manager(container, "demo", clock),
    )
    assert put.status_code == 200, put.text
    assert put.json()["verification"]["state"] == "proven"
    assert put.json()["verification"]["by"] == "graph"
    asked = graph.requests[-1]
    assert asked.method == "GET"
    assert asked.path.startswith(f"/v21.0/{NUMBER_ID}?fields=display_phone_number")
    assert asked.headers["authorization"] == "Bearer demo-token"
    assert routed_to(container, "whatsapp", NUMBER_ID) == "demo"


def test_instagram_is_proven_by_the_graph_api_and_reverified_on_request(
    app: tuple[TestClient, Container], clock: FakeClock, graph: Any
) -> None:
    client, container = app
    headers = manager(container, "demo", clock)
    put = client.put(
        "/v1/restaurants/demo/channels/instagram",
        json={"account_id": IG_ID, "access_token": "demo-ig-token"},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert routed_to(container, "instagram", IG_ID) == "demo"
    graph.queue((500, {"error": {"message": "down"}}))
    down = client.post("/v1/restaurants/demo/channels/instagram/verify", headers=headers)
    assert down.status_code == 503
    assert routed_to(container, "instagram", IG_ID) == "demo"  # an outage changes nothing
    graph.queue((400, {"error": {"message": "token revoked", "code": 190}}))
    revoked = client.post("/v1/restaurants/demo/channels/instagram/verify", headers=headers)
    assert revoked.status_code == 422
    assert routed_to(container, "instagram", IG_ID) is None
    listed = client.get("/v1/restaurants/demo/channels", headers=headers).json()["channels"]
    assert listed[0]["verification"] == {"state": "pending", "needs": "graph"}
    again = client.post("/v1/restaurants/demo/channels/instagram/verify", headers=headers)
    assert again.json()["verification"]["state"] == "proven"
    assert routed_to(container, "instagram", IG_ID) == "demo"


def test_an_email_address_routes_only_after_the_mailed_code_comes_back(
    app: tuple[TestClient, Container], clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    """Fails before the fix: the address routed to the restaurant as soon as it was put."""
    client, container = app
    headers = manager(container, "demo", clock)
    put = client.put(
        "/v1/restaurants/demo/channels/email",
        json={"address": "reservas@demo.example"},
        headers=headers,
    )
    assert put.status_code == 202, put.text
    assert put.json()["verification"]["state"] == "pending"
    assert put.json()["verification"]["needs"] == "code"
    assert routed_to(container, "email", "reservas@demo.example") is None
    code = mailed_code(relay, "reservas@demo.example")
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(
        "/v1/restaurants/demo/channels/email/verify", json={"code": wrong}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.json()["attempts_left"] == 4
    assert routed_to(container, "email", "reservas@demo.example") is None
    proven = client.post(
        "/v1/restaurants/demo/channels/email/verify", json={"code": code}, headers=headers
    )
    assert proven.status_code == 200, proven.text
    assert proven.json()["verification"]["by"] == "code"
    assert routed_to(container, "email", "reservas@demo.example") == "demo"


def test_an_email_code_expires_and_runs_out_of_tries(
    app: tuple[TestClient, Container], clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    client, container = app
    headers = manager(container, "demo", clock)
    client.put(
        "/v1/restaurants/demo/channels/email", json={"address": "a@demo.example"}, headers=headers
    )
    code = mailed_code(relay, "a@demo.example")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post(
            "/v1/restaurants/demo/channels/email/verify", json={"code": wrong}, headers=headers
        )
    spent = client.post(
        "/v1/restaurants/demo/channels/email/verify", json={"code": code}, headers=headers
    )
    assert spent.status_code == 422  # five wrong tries spend the code, even for the right one
    clock.advance(minutes=2)
    assert (
        client.post("/v1/restaurants/demo/channels/email/verify", headers=headers).status_code
        == 200
    )
    fresh = mailed_code(relay, "a@demo.example")
    clock.advance(minutes=31)
    late = client.post(
        "/v1/restaurants/demo/channels/email/verify", json={"code": fresh}, headers=headers
    )
    assert late.status_code == 422
    assert routed_to(container, "email", "a@demo.example") is None


def test_a_pending_claim_does_not_keep_the_owner_from_proving_its_address(
    app: tuple[TestClient, Container], clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    """Fails before the fix: the first claim won, so the real owner got 409 forever."""
    client, container = app
    squat = client.put(
        "/v1/restaurants/other/channels/email",
        json={"address": "reservas@demo.example"},
        headers=manager(container, "other", clock),
    )
    assert squat.status_code == 202
    owner = manager(container, "demo", clock)
    put = client.put(
        "/v1/restaurants/demo/channels/email",
        json={"address": "reservas@demo.example"},
        headers=owner,
    )
    assert put.status_code == 202, put.text
    code = mailed_code(relay, "reservas@demo.example")
    proven = client.post(
        "/v1/restaurants/demo/channels/email/verify", json={"code": code}, headers=owner
    )
    assert proven.status_code == 200, proven.text
    assert routed_to(container, "email", "reservas@demo.example") == "demo"


def test_a_taken_address_is_refused_without_naming_who_holds_it(
    app: tuple[TestClient, Container], clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    """Fails before the fix: the 409 said the address "belongs to another restaurant"
    and echoed it, so any manager could map which addresses other tenants own."""
    client, container = app
    for channel, body in {
        "whatsapp": {"phone_number_id": NUMBER_ID, "access_token": "demo-token"},
        "email": {"address": "reservas@demo.example"},
    }.items():
        assert (
            client.put(
                f"/v1/restaurants/demo/channels/{channel}", json=body, headers=ADMIN
            ).status_code
            == 200
        )
    other = manager(container, "other", clock)
    clash = client.put(
        "/v1/restaurants/other/channels/whatsapp",
        json={"phone_number_id": NUMBER_ID, "access_token": "other-token"},  # may use it too
        headers=other,
    )
    assert clash.status_code == 409
    problem = clash.json()
    assert problem["detail"] == "This address is not available"
    assert set(problem) == {"type", "title", "status", "detail", "code"}
    assert "demo" not in clash.text.lower()
    # An email claim reads the same whether the address is taken or free, and the
    # holder is not mailed a code.
    mailed = len(relay[0].messages)
    taken = client.put(
        "/v1/restaurants/other/channels/email",
        json={"address": "reservas@demo.example"},
        headers=other,
    )
    free = client.put(
        "/v1/restaurants/other/channels/email",
        json={"address": "free@other.example"},
        headers=other,
    )
    assert taken.status_code == free.status_code == 202
    assert taken.json()["verification"].keys() == free.json()["verification"].keys()
    assert len(relay[0].messages) == mailed + 1  # only the free address got a code
    assert routed_to(container, "email", "reservas@demo.example") == "demo"


def test_sms_numbers_are_assigned_by_the_deployment_admin(
    app: tuple[TestClient, Container], clock: FakeClock
) -> None:
    """Fails before the fix: a manager's SMS number routed at once."""
    client, container = app
    headers = manager(container, "demo", clock)
    put = client.put(
        "/v1/restaurants/demo/channels/sms", json={"number": "+34910000000"}, headers=headers
    )
    assert put.status_code == 202
    assert put.json()["verification"] == {"state": "pending", "needs": "admin"}
    assert routed_to(container, "sms", "+34910000000") is None
    assert (
        client.post("/v1/restaurants/demo/channels/sms/verify", headers=headers).status_code == 403
    )
    approved = client.post("/v1/restaurants/demo/channels/sms/verify", headers=ADMIN)
    assert approved.json()["verification"]["by"] == "admin"
    assert routed_to(container, "sms", "+34910000000") == "demo"
    # Editing settings of the proven number keeps it proven.
    edited = client.put(
        "/v1/restaurants/demo/channels/sms", json={"number": "+34910000000"}, headers=headers
    )
    assert edited.status_code == 200
    assert routed_to(container, "sms", "+34910000000") == "demo"
