"""The waitlist end to end through the real webhook endpoints.

The app runs as the embedded default does (relay, notifier, waitlist consumer
and sweep, channel workers, all in process) on the demo restaurant with
WhatsApp (Graph API stand-in), SMS (Twilio stand-in) and email (a capturing
SMTP relay). Tuesday 2026-06-02 at 21:00 is full for two; the clock stands
at Monday 11:00 in Madrid.

1. Lucía on WhatsApp is refused 21:00, taps *notify me*; John cancels his
   21:00 booking by SMS; within seconds Lucía gets the offer with buttons,
   taps *yes* and is booked (confirmed, her name, 21:00).
2. Lucía joins, and so does Marta through the public API with only an email;
   John cancels; Lucía lets the offer expire; the sweep releases the seat and
   offers it to Marta by email, as numbered choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import Status
from tests.integration.channels.test_channels_email_smtp import CaptureHandler
from tests.integration.channels.test_webhooks_meta import SECRET, WA_NUMBER_ID, graph_answer, wait
from tests.integration.conftest import (
    EMAIL_ADDRESS,
    EMAIL_HOST,
    TWILIO_SID,
    TWILIO_TOKEN,
    channel_app,
)
from tests.integration.conversation.test_conversation_channels import (
    SmsGuest,
    WhatsAppGuest,
    wa_text,
)
from tests.integration.conversation.test_conversation_dialogue import fill
from tests.recording_http import RecordingServer, recording_server
from tests.support import FakeClock

AT_21 = datetime(2026, 6, 2, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
JOHN = "+447700900123"  # the SmsGuest's number


@pytest.fixture
def graph() -> Iterator[RecordingServer]:
    with recording_server(graph_answer) as server:
        yield server


@pytest.fixture
def twilio() -> Iterator[RecordingServer]:
    counter = iter(range(1, 10_000))
    with recording_server(
        lambda r: (201, {"sid": f"SM{next(counter):032x}", "status": "queued"})
    ) as server:
        yield server


@pytest.fixture
def app(
    settings: Settings,
    clock: FakeClock,
    graph: RecordingServer,
    twilio: RecordingServer,
    relay: tuple[CaptureHandler, int],
) -> Iterator[tuple[TestClient, Container]]:
    with channel_app(
        settings,
        clock,
        {
            "whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"},
            "sms": {"number": "+34910000000"},
            "email": {"address": EMAIL_ADDRESS},
        },
        meta_app_secret=SecretStr(SECRET.decode()),
        graph_api_base=graph.url,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=SecretStr(TWILIO_TOKEN),
        twilio_api_base=twilio.url,
        smtp_relay_host=EMAIL_HOST,
        smtp_relay_port=relay[1],
        smtp_relay_starttls=False,
        public_base_url="https://book.example.com",
        relay_in_process=True,  # the embedded default: everything runs in this process
        relay_poll_interval_s=0.02,
        waitlist_sweep_s=0.05,
    ) as running:
        yield running


def full_at_21(container: Container) -> str:
    """John (SMS) holds one 21:00 table; the rest are taken too. Returns his code."""
    john = container.booking.create(
        CreateReservation("demo", AT_21, 2, GuestDetails(name="John Smith", phone=JOHN)),
        Actor("staff", "host", "phone"),
    )
    fill(container, AT_21, 2)
    return john.reservation.code


def join_on_whatsapp(lucia: WhatsAppGuest) -> None:
    refused = lucia.says("Hola, mesa para 2 mañana a las 21:00")
    assert "no me queda mesa" in wa_text(refused)
    assert "¿Te aviso si se libera algo" in wa_text(refused)
    interactive = refused["interactive"]
    if interactive["type"] == "list":
        choices = interactive["action"]["sections"][0]["rows"]
        kind = "list_reply"
    else:
        choices = [b["reply"] for b in interactive["action"]["buttons"]]
        kind = "button_reply"
    [notify_me] = [c for c in choices if c["id"].startswith("wl:j:")]
    assert notify_me["title"] == "🔔 Avísame"
    joined = lucia.taps(notify_me["id"], notify_me["title"], kind)
    assert "Apuntado" in wa_text(joined)
    assert "entre las 20:00 y las 22:00" in wa_text(joined)


def john_cancels_by_sms(client: TestClient, twilio: RecordingServer, code: str) -> None:
    # His booking's confirmation goes out by SMS from the relay, on its own time: wait for
    # it, or it could land after his message and be read as the bot's answer.
    wait(lambda: any(code in str(r.form().get("Body", "")) for r in twilio.requests), timeout=10.0)
    john = SmsGuest(client, twilio)
    sure = john.says("I need to cancel my booking")
    assert f"cancel your booking {code}" in sure
    assert "cancelled" in john.says("yes")


def offer_on_whatsapp(graph: RecordingServer, since: int) -> dict[str, Any]:
    def offered() -> list[dict[str, Any]]:
        return [
            r.json()
            for r in graph.requests[since:]
            if r.json().get("type") == "interactive" and "liberado" in wa_text(r.json())
        ]

    wait(offered, timeout=10.0)  # "within seconds" (a few tenths when the machine is idle)
    [offer] = offered()
    return offer


def test_refused_on_whatsapp_joins_gets_the_seat_john_cancelled_by_sms_and_books_it(
    app: tuple[TestClient, Container], graph: RecordingServer, twilio: RecordingServer
) -> None:
    client, container = app
    john_code = full_at_21(container)
    lucia = WhatsAppGuest(client, graph)
    join_on_whatsapp(lucia)
    sent_before = len(graph.requests)

    john_cancels_by_sms(client, twilio, john_code)
    offer = offer_on_whatsapp(graph, sent_before)

    assert "21:00" in wa_text(offer)
    assert "Te la guardamos hasta las 11:15" in wa_text(offer)
    buttons = [b["reply"] for b in offer["interactive"]["action"]["buttons"]]
    assert [b["title"] for b in buttons] == ["Sí, la quiero", "No, gracias"]
    done = lucia.taps(buttons[0]["id"], buttons[0]["title"], "button_reply")
    text = wa_text(done) if done["type"] != "image" else done["image"]["caption"]
    assert "Reserva confirmada" in text or "QR" in text
    mine = [
        r
        for r in container.booking.list_for_day("demo", AT_21.date())
        if r.guest is not None and r.guest.name == "Lucía Pérez"
    ]
    assert [(r.status, r.start) for r in mine] == [(Status.CONFIRMED, AT_21)]
    # One offer for this hold, however often its event came round.
    assert (
        sum(
            "liberado" in wa_text(r.json())
            for r in graph.requests
            if r.json().get("type") in {"interactive", "text"}
        )
        == 1
    )


def test_an_offer_left_to_expire_passes_to_the_next_guest_by_email(
    app: tuple[TestClient, Container],
    graph: RecordingServer,
    twilio: RecordingServer,
    relay: tuple[CaptureHandler, int],
    clock: FakeClock,
) -> None:
    client, container = app
    assert container.waitlist is not None
    john_code = full_at_21(container)
    join_on_whatsapp(WhatsAppGuest(client, graph))
    marta = client.post(
        "/v1/restaurants/demo/waitlist",
        json={
            "date": "2026-06-02",
            "time": "21:00",
            "party_size": 2,
            "name": "Marta",
            "email": "marta@example.com",
            "language": "es",
        },
    )
    assert marta.status_code == 201, marta.text
    marta_code = marta.json()["entry"]["code"]
    sent_before = len(graph.requests)
    john_cancels_by_sms(client, twilio, john_code)
    offer_on_whatsapp(graph, sent_before)
    assert relay[0].messages == []

    clock.advance(minutes=16)  # Lucía never answers

    def offered_by_email() -> list[EmailMessage]:
        found = [m.message for m in relay[0].messages]
        return [m for m in found if "Mesa libre" in str(m["Subject"])]

    wait(offered_by_email, timeout=10.0)
    [mail] = offered_by_email()
    assert mail["To"] == "marta@example.com"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "1. Sí, la quiero" in text
    assert "2. No, gracias" in text
    entries = {e.guest_name: e for e in container.waitlist.list_day("demo", AT_21.date())}
    assert entries["Lucía Pérez"].status == "expired"
    assert entries["Marta"].status == "offered"
    assert entries["Marta"].code == marta_code
