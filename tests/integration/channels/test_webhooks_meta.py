"""WhatsApp and Instagram end to end over HTTP, with byte-exact recorded-shape
bodies signed by an independent HMAC: stored once, acknowledged, answered
through the (stand-in) Graph API, statuses forward only."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.messaging.workers import ChannelWorkers
from saveit.store.schema import channel_messages
from tests.integration.conftest import channel_app
from tests.recording_http import Recorded, RecordingServer, recording_server
from tests.support import FakeClock

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels"
SECRET = b"meta-app-secret-for-tests"
VERIFY = "verify-me"
WA_NUMBER_ID = "109876543210001"
IG_ACCOUNT = "17841400000000001"


def graph_answer(request: Recorded) -> tuple[int, Any]:
    doc = json.loads(request.body)
    if doc.get("messaging_product") == "whatsapp":
        n = len(request.body)
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": doc["to"], "wa_id": doc["to"]}],
            "messages": [{"id": f"wamid.OUT{n:031d}"}],
        }
    return 200, {"recipient_id": doc["recipient"]["id"], "message_id": "mid.out.1"}


@pytest.fixture
def graph() -> Iterator[RecordingServer]:
    with recording_server(graph_answer) as server:
        yield server


@pytest.fixture
def meta_app(
    settings: Settings, clock: FakeClock, graph: RecordingServer
) -> Iterator[tuple[TestClient, Container]]:
    with channel_app(
        settings,
        clock,
        {
            "whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"},
            "instagram": {"account_id": IG_ACCOUNT, "access_token": "ig-token"},
        },
        meta_app_secret=SecretStr(SECRET.decode()),
        meta_verify_token=SecretStr(VERIFY),
        graph_api_base=graph.url,
    ) as running:
        yield running


def signed(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def wait(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def inbound(container: Container) -> list[Any]:
    with container.engine.connect() as conn:
        return list(
            conn.execute(select(channel_messages).where(channel_messages.c.direction == "in")).all()
        )


def test_the_subscription_handshake(meta_app: tuple[TestClient, Container]) -> None:
    client, _ = meta_app
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    ok = client.get("/webhooks/whatsapp", params=params)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = client.get("/webhooks/instagram", params={**params, "hub.verify_token": "nope"})
    assert wrong.status_code == 403


def test_a_signed_whatsapp_message_is_stored_and_answered_through_the_graph_api(
    meta_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, container = meta_app
    body = fixture("whatsapp/text_escaped.json")
    answer = client.post("/webhooks/whatsapp", content=body, headers=signed(body))
    assert answer.status_code == 200
    assert answer.json()["stored"] == 1
    wait(lambda: graph.requests)
    sent = graph.requests[0]
    assert sent.path == f"/v21.0/{WA_NUMBER_ID}/messages"
    assert sent.headers["authorization"] == "Bearer wa-token"
    assert sent.json()["to"] == "34600000001"
    # The bot read the request and asks to confirm it, with Sí / No reply buttons.
    interactive = sent.json()["interactive"]
    assert "4 personas" in interactive["body"]["text"]
    assert "21:00" in interactive["body"]["text"]
    assert [b["reply"]["title"] for b in interactive["action"]["buttons"]] == ["Sí", "No"]
    [row] = inbound(container)
    assert row.text == "Hola, ¿mesa para 4 mañana a las 21:00? 😀"
    assert row.address == "+34600000001"


def test_bad_or_missing_signatures_are_refused_and_nothing_is_stored(
    meta_app: tuple[TestClient, Container],
) -> None:
    client, container = meta_app
    body = fixture("whatsapp/text_escaped.json")
    tampered = body.replace(b"21:00", b"22:00")
    assert (
        client.post("/webhooks/whatsapp", content=tampered, headers=signed(body)).status_code == 401
    )
    assert (
        client.post("/webhooks/whatsapp", content=body, headers=signed(body, b"other")).status_code
        == 401
    )
    assert client.post("/webhooks/instagram", content=body).status_code == 401
    assert inbound(container) == []


def test_the_same_webhook_five_times_at_once_is_processed_once(
    meta_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, container = meta_app
    body = fixture("whatsapp/text_utf8.json")
    with ThreadPoolExecutor(5) as pool:
        codes = list(
            pool.map(
                lambda _: client.post("/webhooks/whatsapp", content=body, headers=signed(body)),
                range(5),
            )
        )
    assert [c.status_code for c in codes] == [200] * 5
    assert sorted(c.json()["stored"] for c in codes) == [0, 0, 0, 0, 1]
    wait(lambda: graph.requests)
    time.sleep(0.3)  # a second answer would have gone out by now
    assert len(graph.requests) == 1
    assert len(inbound(container)) == 1


def test_statuses_arriving_out_of_order_leave_the_latest(
    meta_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, container = meta_app
    body = fixture("whatsapp/text_utf8.json")
    client.post("/webhooks/whatsapp", content=body, headers=signed(body))

    def sent_id() -> str | None:
        with container.engine.connect() as conn:
            return conn.execute(
                select(channel_messages.c.provider_message_id).where(
                    channel_messages.c.direction == "out"
                )
            ).scalar()

    wait(sent_id)
    wamid = sent_id()
    assert wamid is not None
    statuses = fixture("whatsapp/statuses.json").replace(
        b"wamid.OUT0000000000000000000000000001", wamid.encode()
    )
    assert (
        client.post("/webhooks/whatsapp", content=statuses, headers=signed(statuses)).status_code
        == 200
    )
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
    ours = [
        st["status"]
        for st in json.loads(statuses)["entry"][0]["changes"][0]["value"]["statuses"]
        if st["id"] == wamid
    ]
    assert ours[0] != ours[-1]  # the fixture really is out of order
    expected = "failed" if "failed" in ours else max(ours, key=["sent", "delivered", "read"].index)
    assert row.status == expected


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"object":"page","entry":[]}', b"\xff\xfe", b"[]"],
    ids=["broken-json", "unknown-object", "invalid-utf8", "not-an-object"],
)
def test_unreadable_bodies_are_a_400_and_store_nothing(
    meta_app: tuple[TestClient, Container], body: bytes
) -> None:
    client, container = meta_app
    answer = client.post("/webhooks/whatsapp", content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["code"] == "MALFORMED_PAYLOAD"
    assert inbound(container) == []


def test_unsupported_types_and_unknown_numbers_are_acknowledged_and_ignored(
    meta_app: tuple[TestClient, Container],
) -> None:
    client, container = meta_app
    audio = fixture("whatsapp/audio.json")
    answer = client.post("/webhooks/whatsapp", content=audio, headers=signed(audio))
    assert answer.status_code == 200
    assert answer.json()["stored"] == 0
    batched = fixture("whatsapp/batched.json")  # one of its numbers is nobody's
    answer = client.post("/webhooks/whatsapp", content=batched, headers=signed(batched))
    assert answer.status_code == 200
    assert answer.json()["ignored"] >= 1
    assert {r.channel for r in inbound(container)} <= {"whatsapp"}


def test_an_oversized_body_is_refused(meta_app: tuple[TestClient, Container]) -> None:
    client, _ = meta_app
    body = b'{"object":"whatsapp_business_account","pad":"' + b"x" * 70_000 + b'"}'
    assert client.post("/webhooks/whatsapp", content=body, headers=signed(body)).status_code == 413


def test_an_instagram_message_is_answered_and_our_echo_ignored(
    meta_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, container = meta_app
    body = fixture("instagram/text.json")
    assert client.post("/webhooks/instagram", content=body, headers=signed(body)).status_code == 200
    wait(lambda: graph.requests)
    sent = graph.requests[0]
    assert sent.path == f"/v21.0/{IG_ACCOUNT}/messages"
    assert sent.json()["recipient"] == {"id": "6500000000000001"}
    echo = fixture("instagram/echo.json")
    assert (
        client.post("/webhooks/instagram", content=echo, headers=signed(echo)).json()["stored"] == 0
    )
    with container.engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(channel_messages)
            .where(channel_messages.c.direction == "in")
        ).scalar_one()
    assert count == 1


def test_an_api_beside_a_worker_only_acknowledges_and_the_worker_answers(
    settings: Settings, clock: FakeClock, graph: RecordingServer
) -> None:
    """Production: the API process stores and acknowledges, and leaves answering to
    ``saveit worker``, so a burst of guest turns never slows the acknowledgements."""
    accounts = {"whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"}}
    with channel_app(
        settings,
        clock,
        accounts,
        channel_workers_in_api=False,
        meta_app_secret=SecretStr(SECRET.decode()),
        graph_api_base=graph.url,
    ) as (client, container):
        body = fixture("whatsapp/text_escaped.json")
        answer = client.post("/webhooks/whatsapp", content=body, headers=signed(body))
        assert answer.json()["stored"] == 1
        time.sleep(0.5)  # the API's own loops would have answered within 0.02 s
        assert graph.requests == []
        assert [row.processed_at for row in inbound(container)] == [None]
        assert container.gateway is not None
        stop = threading.Event()
        worker = ChannelWorkers(container.gateway, poll_s=0.02)  # what `saveit worker` runs
        worker.start(stop)
        try:
            wait(lambda: graph.requests)
        finally:
            stop.set()
            worker.join()
        assert graph.requests[0].json()["to"] == "34600000001"
