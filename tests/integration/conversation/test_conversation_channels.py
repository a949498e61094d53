"""Scripted guests talking to the bot through the real entry points — a signed
WhatsApp webhook in Spanish, a signed Twilio SMS webhook in English, the web chat
socket and real SMTP — until the booking is confirmed and visible in the staff API;
one guest picks an alternative to a taken time, one changes a booking, one cancels.

The clock stands at Monday 2026-06-01 11:00 in Madrid; the demo restaurant
serves lunch 13:00-16:00 and dinner 20:00-23:30 every day.
"""

from __future__ import annotations

import itertools
import json
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.domain.model import Status
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_webchat_ws import (
    connect,
    is_,
    opening,
    quiet,
    started,
    until,
    with_webchat,
)
from tests.integration.channels.test_webhooks_meta import (
    SECRET,
    WA_NUMBER_ID,
    graph_answer,
    signed,
    wait,
)
from tests.integration.channels.test_webhooks_twilio import _signed
from tests.integration.conftest import TWILIO_SID as SID
from tests.integration.conftest import channel_app
from tests.integration.conversation.test_conversation_dialogue import fill
from tests.integration.conversation.test_email_conversation import GUEST, guest_mail, run_workers
from tests.recording_http import RecordingServer, recording_server
from tests.support import FakeClock

STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TOMORROW = "2026-06-02"
_ids = itertools.count(1)


def staff_view(client: TestClient, day: str = TOMORROW) -> list[dict[str, Any]]:
    got = client.get(f"/v1/restaurants/demo/reservations?date={day}", headers=STAFF)
    assert got.status_code == 200, got.text
    found: list[dict[str, Any]] = got.json()["reservations"]
    return found


def code_in(text: str) -> str:
    for line in text.splitlines():
        if line.startswith(("Código:", "Code:")):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no booking code in {text!r}")


# --- WhatsApp, in Spanish, through the signed webhook and the Graph API stand-in ---------


@pytest.fixture
def graph() -> Iterator[RecordingServer]:
    with recording_server(graph_answer) as server:
        yield server


@pytest.fixture
def wa_app(
    settings: Settings, clock: FakeClock, graph: RecordingServer
) -> Iterator[tuple[TestClient, Container]]:
    with channel_app(
        settings,
        clock,
        {"whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"}},
        meta_app_secret=SecretStr(SECRET.decode()),
        graph_api_base=graph.url,
    ) as running:
        yield running


def wa_message(content: dict[str, Any]) -> bytes:
    message = {
        "from": "34600123456",
        "id": f"wamid.SCRIPT{next(_ids):020d}",
        "timestamp": "1780304400",
        **content,
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "34910000001", "phone_number_id": WA_NUMBER_ID},
        "contacts": [{"profile": {"name": "Lucía Pérez"}, "wa_id": "34600123456"}],
        "messages": [message],
    }
    doc = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(doc).encode()


class WhatsAppGuest:
    def __init__(self, client: TestClient, graph: RecordingServer) -> None:
        self.client = client
        self.graph = graph

    def _post(self, content: dict[str, Any]) -> dict[str, Any]:
        before = len(self.graph.requests)
        body = wa_message(content)
        answer = self.client.post("/webhooks/whatsapp", content=body, headers=signed(body))
        assert answer.status_code == 200
        wait(lambda: len(self.graph.requests) > before)
        reply: dict[str, Any] = self.graph.requests[-1].json()
        return reply

    def says(self, text: str) -> dict[str, Any]:
        return self._post({"type": "text", "text": {"body": text}})

    def taps(self, reply_id: str, title: str, kind: str) -> dict[str, Any]:
        return self._post(
            {
                "type": "interactive",
                "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
            }
        )


def wa_text(sent: dict[str, Any]) -> str:
    if sent["type"] == "text":
        return str(sent["text"]["body"])
    return str(sent["interactive"]["body"]["text"])


def test_whatsapp_in_spanish_a_taken_time_an_alternative_and_a_confirmed_booking(
    wa_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, container = wa_app
    fill(container, datetime(2026, 6, 2, 19, 0, tzinfo=UTC), 4)
    before = {r["code"] for r in staff_view(client)}
    lucia = WhatsAppGuest(client, graph)

    offered = lucia.says("Hola! mesa para 4 mañana a las 9 de la noche x favor 🙏")
    assert "no me queda mesa" in wa_text(offered)
    interactive = offered["interactive"]
    if interactive["type"] == "list":
        rows = interactive["action"]["sections"][0]["rows"]
        pick, kind = rows[0], "list_reply"
    else:
        pick, kind = interactive["action"]["buttons"][0]["reply"], "button_reply"
    confirm = lucia.taps(pick["id"], pick["title"], kind)
    assert "¿Te reservo mesa para 4 personas" in wa_text(confirm)
    assert "Lucía Pérez" in wa_text(confirm)
    yes = confirm["interactive"]["action"]["buttons"][0]["reply"]
    assert yes["title"] == "Sí"
    done = lucia.taps(yes["id"], yes["title"], "button_reply")
    code = code_in(wa_text(done))

    tz = container.booking.restaurant("demo").tz
    local = container.booking.get(code).start.astimezone(tz)
    [booked] = [r for r in staff_view(client, local.date().isoformat()) if r["code"] == code]
    assert code not in before
    assert booked["status"] == "confirmed"
    assert booked["party_size"] == 4
    assert pick["title"].endswith(local.strftime("%H:%M"))  # the time the guest picked


# --- SMS, in English, through the signed Twilio webhook and the REST stand-in -------------


class SmsGuest:
    def __init__(self, client: TestClient, api: RecordingServer) -> None:
        self.client = client
        self.api = api

    def says(self, text: str) -> str:
        before = len(self.api.requests)
        body = urlencode(
            {
                "MessageSid": f"SM{next(_ids):032d}",
                "AccountSid": SID,
                "From": "+447700900123",
                "To": "+34910000000",
                "Body": text,
                "NumMedia": "0",
            }
        ).encode()
        path = "/webhooks/twilio/sms"
        assert self.client.post(path, content=body, headers=_signed(path, body)).status_code == 200
        wait(lambda: len(self.api.requests) > before)
        return str(self.api.requests[-1].form()["Body"])


def test_sms_in_english_books_and_then_cancels(
    sms_app: tuple[TestClient, Container], twilio_api: RecordingServer
) -> None:
    client, _ = sms_app
    john = SmsGuest(client, twilio_api)
    assert "What name" in john.says("Hi! Table for 2 tomorrow at 8pm pls")
    confirm = john.says("John Smith")
    assert "Shall I book a table for 2 people on Tuesday, June 2 at 20:00 under John Smith" in (
        confirm
    )
    assert "1. Yes\n2. No" in confirm  # SMS has no buttons: numbered choices
    code = code_in(john.says("1"))
    [booked] = [r for r in staff_view(client) if r["code"] == code]
    assert booked["status"] == "confirmed"
    assert booked["guest"]["name"] == "John Smith"

    sure = john.says("I need to cancel my booking")
    assert f"cancel your booking {code}" in sure
    assert "cancelled" in john.says("yes")
    [cancelled] = [r for r in staff_view(client) if r["code"] == code]
    assert cancelled["status"] == "cancelled"


# --- the web chat socket ------------------------------------------------------------------


@pytest.fixture
def chat(settings: Settings, clock: FakeClock) -> Iterator[tuple[TestClient, Container]]:
    from saveit.admin.setup import apply_spec, parse_document
    from saveit.bootstrap import build
    from tests.support import demo_document

    embedded = settings.model_copy(update={"relay_in_process": None, "redis_url": None})
    container = build(embedded, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    with TestClient(with_webchat(create_app(container))) as client:
        started(client)
        yield client, container


def test_web_chat_books_and_then_moves_the_booking(chat: tuple[TestClient, Container]) -> None:
    client, _ = chat
    with connect(client) as ws:
        opening(ws)

        def says(text: str) -> dict[str, Any]:
            ws.send_json({"type": "message", "id": f"c{next(_ids)}", "text": text})
            frame = until(ws, lambda f: is_("message")(f) and f["message"]["direction"] == "out")
            message: dict[str, Any] = frame["message"]
            return message

        assert "¿A nombre de quién" in says("mesa para 2 mañana a las 21:00")["text"]
        confirm = says("Marta Gil")
        assert [b["title"] for b in confirm["buttons"]] == ["Sí", "No"]
        ws.send_json({"type": "choice", "id": f"c{next(_ids)}", "choice": confirm["buttons"][0]})
        done = until(ws, lambda f: is_("message")(f) and f["message"]["direction"] == "out")
        code = code_in(done["message"]["text"])
        assert [r["start"] for r in staff_view(client) if r["code"] == code] == [
            "2026-06-02T21:00:00+02:00"
        ]
        # The confirmation carries the check-in QR, inline, and nothing follows it.
        assert done["message"]["image"]["url"].startswith("data:image/png;base64,")
        assert code in done["message"]["image"]["caption"]
        quiet(ws)

        sure = says("can we move it to 10pm?")
        assert code in sure["text"]
        assert "22:00" in sure["text"]
        changed = says("yes")
        assert "changed" in changed["text"]
        assert changed["image"]["url"].startswith("data:image/png;base64,")  # the new QR
    [moved] = [r for r in staff_view(client) if r["code"] == code]
    assert moved["start"] == "2026-06-02T22:00:00+02:00"
    assert moved["status"] == "confirmed"


# --- email over real SMTP -----------------------------------------------------------------


def test_email_books_a_table_in_thread(mail: tuple[Container, int], relay: tuple[Any, int]) -> None:
    container, port = mail
    captured, _ = relay
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(
            guest_mail("<g-1@example.com>", "Hola, ¿tenéis mesa para 3 mañana a las 14:00?")
        )
    run_workers(container)
    question = captured.messages[-1].message
    body = question.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "¿Te reservo mesa para 3 personas" in body
    assert "Ana García" in body
    assert "1. Sí\n2. No" in body
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(
            guest_mail(
                "<g-2@example.com>",
                "Sí, perfecto\n\nEl lun, 1 jun 2026, Casa Demo escribió:\n> ¿Te reservo mesa?\n",
                Subject="Re: Mesa para el sábado",
                In_Reply_To=question["Message-ID"],
                References=f"<g-1@example.com> {question['Message-ID']}",
            )
        )
    run_workers(container)
    confirmation = captured.messages[-1]
    assert confirmation.rcpt_tos == [GUEST]
    assert confirmation.message["In-Reply-To"] == "<g-2@example.com>"
    code = code_in(confirmation.message.get_body(("plain",)).get_content())
    view = container.booking.get(code)
    assert view.status is Status.CONFIRMED
    assert view.party_size == 3
    assert view.start == datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    assert view.guest is not None
    assert view.guest.email == GUEST
    with TestClient(create_app(container)) as client:
        [listed] = [r for r in staff_view(client) if r["code"] == code]
    assert listed["status"] == "confirmed"
    assert listed["source"] == "email"
