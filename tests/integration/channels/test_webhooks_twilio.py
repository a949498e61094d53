"""Twilio SMS end to end over HTTP: a signed webhook is stored and acknowledged
with TwiML, the reply goes out through the (stand-in) REST API, and the status
callback moves it forward. Signatures come from the ``twilio`` package."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi.testclient import TestClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from saveit.bootstrap import Container
from saveit.store.schema import channel_messages
from tests.integration.conftest import TWILIO_PUBLIC, TWILIO_SID, TWILIO_TOKEN
from tests.recording_http import RecordingServer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels" / "twilio"
PUBLIC = TWILIO_PUBLIC


def _signed(path: str, body: bytes) -> dict[str, str]:
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC}{path}", params)
    return {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_signed_sms_is_acknowledged_with_twiml_and_answered_through_the_rest_api(
    sms_app: tuple[TestClient, Container], twilio_api: RecordingServer
) -> None:
    client, container = sms_app
    body = (FIXTURES / "inbound_sms.form").read_bytes()
    answer = client.post(
        "/webhooks/twilio/sms", content=body, headers=_signed("/webhooks/twilio/sms", body)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    assert "<Response/>" in answer.text
    _wait(lambda: twilio_api.requests)
    sent = twilio_api.requests[0]
    assert sent.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    form = sent.form()
    assert form["To"] == "+34600111222"
    assert form["From"] == "+34910000000"
    assert "¿Cuántas personas" in form["Body"]  # the bot asks what the text left out
    assert form["StatusCallback"] == f"{PUBLIC}/webhooks/twilio/status"
    with container.engine.connect() as conn:
        stored = conn.execute(
            select(channel_messages.c.text).where(channel_messages.c.direction == "in")
        ).scalar_one()
    assert stored == "¿Tenéis mesa mañana? 😀"


def test_a_bad_signature_is_refused_and_nothing_is_stored(
    sms_app: tuple[TestClient, Container],
) -> None:
    client, container = sms_app
    body = (FIXTURES / "inbound_sms.form").read_bytes()
    headers = _signed("/webhooks/twilio/sms", body)
    tampered = body.replace(b"mesa", b"masa")
    answer = client.post("/webhooks/twilio/sms", content=tampered, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "INVALID_SIGNATURE"
    unsigned = client.post(
        "/webhooks/twilio/sms",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    with container.engine.connect() as conn:
        assert conn.execute(select(channel_messages.c.id)).first() is None


def test_the_status_callback_moves_the_reply_forward(
    sms_app: tuple[TestClient, Container], twilio_api: RecordingServer
) -> None:
    client, container = sms_app
    body = (FIXTURES / "inbound_sms.form").read_bytes()
    client.post("/webhooks/twilio/sms", content=body, headers=_signed("/webhooks/twilio/sms", body))
    _wait(lambda: twilio_api.requests)

    def sent_sid() -> str | None:
        with container.engine.connect() as conn:
            return conn.execute(
                select(channel_messages.c.provider_message_id).where(
                    channel_messages.c.direction == "out"
                )
            ).scalar()

    _wait(lambda: sent_sid() is not None)
    sid = sent_sid()
    for status in ("delivered", "sent"):  # out of order: the late "sent" changes nothing
        form = (
            f"MessageSid={sid}&MessageStatus={status}&AccountSid={TWILIO_SID}"
            "&To=%2B34600111222&From=%2B34910000000"
        ).encode()
        answer = client.post(
            "/webhooks/twilio/status",
            content=form,
            headers=_signed("/webhooks/twilio/status", form),
        )
        assert answer.status_code == 200
    with container.engine.connect() as conn:
        status_now = conn.execute(
            select(channel_messages.c.status).where(channel_messages.c.direction == "out")
        ).scalar_one()
    assert status_now == "delivered"


def test_an_unreadable_form_is_a_400(sms_app: tuple[TestClient, Container]) -> None:
    client, _ = sms_app
    body = b"Body=\xff\xfe&From=%2B34600111222"
    answer = client.post(
        "/webhooks/twilio/sms", content=body, headers=_signed("/webhooks/twilio/sms", b"")
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "MALFORMED_PAYLOAD"
