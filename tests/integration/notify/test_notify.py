"""Guests hear about their bookings on every allowed channel, exactly once.

The demo restaurant has WhatsApp (the Graph API stand-in, with an approved
template), SMS (the Twilio stand-in) and email (a capturing SMTP relay). Events
go the real way: booking transaction -> outbox -> relay -> bus -> the
``notifier`` consumer group -> queued messages -> the channel workers -> the
providers' stand-ins, which record what they receive.

The clock stands at Monday 2026-06-01 11:00 in Madrid.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy import event as sa_event

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, ModifyReservation
from saveit.domain.events import Event
from saveit.events.consumer import Consumer
from saveit.events.processed import MemoryProcessedStore, SqlProcessedStore
from saveit.notify import Notifier
from saveit.notify.runner import GROUP
from saveit.store import channel_accounts as accounts
from saveit.store import conversations as convs
from saveit.store import notifications
from saveit.store import restaurants as restaurant_store
from saveit.store.channel_accounts import AccountDirectory
from saveit.store.schema import notifications as notifications_table
from saveit.store.schema import reservation_log
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_channels_email_smtp import CaptureHandler
from tests.integration.channels.test_webhooks_meta import SECRET, WA_NUMBER_ID, graph_answer, wait
from tests.integration.conftest import (
    EMAIL_ADDRESS,
    EMAIL_HOST,
    TWILIO_SID,
    TWILIO_TOKEN,
    channel_app,
)
from tests.recording_http import RecordingServer, recording_server
from tests.support import FakeClock

STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PUBLIC = "https://book.example.com"
PHONE = "+34600111222"
EMAIL = "ana@example.com"


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
            "whatsapp": {
                "phone_number_id": WA_NUMBER_ID,
                "access_token": "wa-token",
                "template_name": "aviso_reserva",
            },
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
        public_base_url=PUBLIC,
    ) as running:
        yield running


class Pump:
    """Outbox -> bus -> the notifier group, by hand (tests own the relay)."""

    def __init__(self, container: Container) -> None:
        assert container.notifier is not None
        self.container = container
        self.consumer = self.fresh()

    def fresh(self) -> Consumer:
        """A notifier consumer as a restarted worker would start one."""
        assert self.container.notifier is not None
        return Consumer(
            self.container.bus,
            GROUP,
            self.container.notifier.handle,
            processed=SqlProcessedStore(self.container.engine),
            block_ms=0,
        )

    def __call__(self) -> None:
        self.container.relay.publish_pending()
        self.consumer.poll_once(block_ms=0)


def book(client: TestClient, **body: Any) -> dict[str, Any]:
    doc = {"date": "2026-06-04", "time": "21:00", "party_size": 2, "name": "Ana García", **body}
    made = client.post("/v1/restaurants/demo/reservations", json=doc)
    assert made.status_code == 201, made.text
    return dict(made.json())


def emails(relay: tuple[CaptureHandler, int]) -> list[EmailMessage]:
    return [m.message for m in relay[0].messages]


def sms_bodies(twilio: RecordingServer) -> list[str]:
    from urllib.parse import parse_qs

    return [parse_qs(r.body.decode())["Body"][0] for r in twilio.requests]


def graph_docs(graph: RecordingServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in graph.requests]


def sent_records(container: Container, code: str) -> list[tuple[str, str]]:
    view = container.booking.get(code)
    with container.engine.connect() as conn:
        return sorted(
            (n["kind"], n["channel"]) for n in notifications.of_reservation(conn, view.id)
        )


# --- confirmation ---------------------------------------------------------------------------


def test_a_web_booking_is_confirmed_by_email_with_the_qr_and_a_calendar_entry(
    app: tuple[TestClient, Container], relay: tuple[CaptureHandler, int], twilio: RecordingServer
) -> None:
    client, container = app
    pump = Pump(container)
    made = book(client, phone=PHONE, email=EMAIL, language="es")
    code = made["reservation"]["code"]
    pump()
    wait(lambda: len(relay[0].messages) == 1)
    mail = emails(relay)[0]
    assert mail["To"] == EMAIL
    assert mail["Subject"] == "Reserva confirmada en Casa Demo: jue 4 jun, 21:00"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert code in text
    assert "21:00" in text
    assert "2 personas" in text
    assert "jueves" in text
    parts = {p.get_content_type(): p for p in mail.walk()}
    assert "image/png" in parts  # the QR, inline
    assert parts["image/png"]["Content-Disposition"].startswith("inline")
    assert "text/calendar" in parts
    calendar = parts["text/calendar"].get_content()
    assert "METHOD:REQUEST" in calendar
    assert f"UID:{code}@demo.saveit" in calendar
    assert twilio.requests == []  # default: the booking's channel (web) plus email
    assert sent_records(container, code) == [("confirmation", "email")]


def test_a_phone_only_booking_gets_a_short_sms_with_a_link_to_its_qr(
    app: tuple[TestClient, Container], twilio: RecordingServer, relay: tuple[CaptureHandler, int]
) -> None:
    client, container = app
    made = book(client, phone=PHONE, language="en")
    Pump(container)()
    wait(lambda: len(twilio.requests) == 1)
    (text,) = sms_bodies(twilio)
    code = made["reservation"]["code"]
    assert text.startswith("Casa Demo: booking confirmed")
    assert f"Code {code}" in text
    assert "21:00" in text
    assert f"{PUBLIC}/v1/reservations/{code}/qr?format=png&token=" in text
    assert not any(ord(ch) > 0xFFFF for ch in text)  # no emoji in an SMS
    qr = client.get(text.split("QR: ", 1)[1].replace(PUBLIC, ""))
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/png"
    assert relay[0].messages == []


def test_every_allowed_channel_once_even_with_events_delivered_twice_and_a_restart(
    app: tuple[TestClient, Container],
    graph: RecordingServer,
    twilio: RecordingServer,
    relay: tuple[CaptureHandler, int],
) -> None:
    """The guest allows WhatsApp, SMS and email. The event is delivered again to a
    restarted consumer that lost its processed marks, and handled a third time
    directly: still one message per channel."""
    client, container = app
    pump = Pump(container)
    made = book(client, phone=PHONE, email=EMAIL, language="es")
    code = made["reservation"]["code"]
    guest_id = container.booking.get(code).guest
    assert guest_id is not None
    chosen = client.put(
        f"/v1/restaurants/demo/guests/{guest_id.id}/notify-channels",
        json={"channels": ["whatsapp", "sms", "email"]},
        headers=STAFF,
    )
    assert chosen.status_code == 200, chosen.text
    container.relay.publish_pending()
    captured: list[Any] = []

    def spy(event: Any) -> None:
        captured.append(event)

    Consumer(container.bus, "spy", spy, processed=MemoryProcessedStore()).poll_once(block_ms=0)
    pump.consumer.poll_once(block_ms=0)
    wait(lambda: len(relay[0].messages) == 1 and twilio.requests and graph.requests)
    # A worker restarted with an empty memory gets the same event again...
    assert container.notifier is not None
    restarted = Consumer(
        container.bus, GROUP, container.notifier.handle, processed=MemoryProcessedStore()
    )
    container.bus.publish(captured)
    restarted.poll_once(block_ms=0)
    # ... and a straggler handles it once more.
    for event in captured:
        container.notifier.handle(event)
    assert container.gateway is not None
    while container.gateway.deliver_due():
        pass
    assert len(relay[0].messages) == 1
    assert len(twilio.requests) == 1
    whatsapp = graph_docs(graph)
    assert len(whatsapp) == 1
    # The guest never wrote on WhatsApp: outside the 24-hour window only the
    # restaurant's approved template may go out.
    assert whatsapp[0]["type"] == "template"
    assert whatsapp[0]["template"]["name"] == "aviso_reserva"
    assert code in json.dumps(whatsapp[0], ensure_ascii=False)
    assert sent_records(container, code) == [
        ("confirmation", "email"),
        ("confirmation", "sms"),
        ("confirmation", "whatsapp"),
    ]


def test_guest_channel_choice_is_validated_and_changes_nothing_when_bad(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    made = book(client, phone=PHONE)
    guest = container.booking.get(made["reservation"]["code"]).guest
    assert guest is not None
    url = f"/v1/restaurants/demo/guests/{guest.id}/notify-channels"
    bad = client.put(url, json={"channels": ["fax"]}, headers=STAFF)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert client.put(url, json={"channels": ["sms"]}).status_code == 401
    assert client.get(url, headers=STAFF).json() == {"channels": None, "default": True}


# --- changes, cancellations -------------------------------------------------------------


def test_a_change_and_a_cancellation_by_the_restaurant_reach_the_guest(
    app: tuple[TestClient, Container], relay: tuple[CaptureHandler, int]
) -> None:
    client, container = app
    pump = Pump(container)
    made = book(client, email=EMAIL, language="en")
    code = made["reservation"]["code"]
    token = {"X-Manage-Token": made["manage_token"]}
    pump()
    moved = client.patch(
        f"/v1/reservations/{code}", json={"date": "2026-06-04", "time": "21:30"}, headers=token
    )
    assert moved.status_code == 200, moved.text
    pump()
    notes_only = client.patch(
        f"/v1/reservations/{code}", json={"notes": "window table"}, headers=STAFF
    )
    assert notes_only.status_code == 200, notes_only.text
    pump()
    cancelled = client.post(
        f"/v1/reservations/{code}/cancel", json={"reason": "kitchen flooded"}, headers=STAFF
    )
    assert cancelled.status_code == 200, cancelled.text
    pump()
    wait(lambda: len(relay[0].messages) == 3)
    confirmation, change, cancellation = emails(relay)
    # One thread in the guest's mailbox.
    assert change["In-Reply-To"] == confirmation["Message-ID"]
    assert cancellation["In-Reply-To"] == change["Message-ID"]
    assert confirmation["Message-ID"] in cancellation["References"]
    change_text = change.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "has changed" in change_text
    assert "21:30" in change_text
    assert "SEQUENCE:2" in _calendar(change)
    gone = cancellation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "the restaurant had to cancel" in gone
    assert "kitchen flooded" in gone
    assert "METHOD:CANCEL" in _calendar(cancellation)
    assert not any(p.get_content_type() == "image/png" for p in cancellation.walk())


def _calendar(mail: EmailMessage) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/calendar":
            return str(part.get_content())
    raise AssertionError("no calendar part")


# --- no-shows and the approval policy ----------------------------------------------------


def test_a_guest_not_checked_in_after_the_grace_period_is_a_no_show(
    app: tuple[TestClient, Container], clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    client, container = app
    pump = Pump(container)
    late = book(client, email=EMAIL, date="2026-06-01", time="13:00")["reservation"]["code"]
    seated = book(client, phone=PHONE, date="2026-06-01", time="13:00")["reservation"]["code"]
    pump()
    assert container.scheduler is not None
    clock.advance(hours=2, minutes=19)  # 13:19 in Madrid: within the 20-minute grace
    assert container.scheduler.sweep_no_shows() == 0
    checked = client.post(f"/v1/reservations/{seated}/check-in", headers=STAFF)
    assert checked.status_code == 200, checked.text
    clock.advance(minutes=2)
    assert container.scheduler.sweep_no_shows() == 1
    assert container.scheduler.sweep_no_shows() == 0  # once
    view = container.booking.get(late)
    assert view.status.value == "no_show"
    assert view.guest is not None
    assert view.guest.no_show_count == 1
    assert container.booking.get(seated).status.value == "checked_in"
    with container.engine.connect() as conn:
        actions = conn.execute(
            select(reservation_log.c.action, reservation_log.c.actor).where(
                reservation_log.c.reservation_id == view.id
            )
        ).all()
    assert ("no_show", "system:no-show sweep") in [tuple(a) for a in actions]
    # The tables are free for walk-ins at once.
    walk_in = client.post(
        "/v1/restaurants/demo/walk-ins", json={"party_size": 2, "tables": ["T1"]}, headers=STAFF
    )
    assert walk_in.status_code == 201, walk_in.text
    pump()
    wait(lambda: len(relay[0].messages) == 2)
    notice = emails(relay)[1]
    assert "no te hemos visto" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_guests_with_too_many_no_shows_book_as_pending_until_staff_confirm(
    app: tuple[TestClient, Container], clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    client, container = app
    pump = Pump(container)
    rules = client.get("/v1/restaurants/demo/rules", headers=STAFF).json()
    put = client.put(
        "/v1/restaurants/demo/rules",
        json={**rules, "no_show_approval_after": 1},
        headers=STAFF,
    )
    assert put.status_code == 200, put.text
    first = book(client, email=EMAIL, date="2026-06-01", time="13:00")["reservation"]
    assert first["status"] == "confirmed"
    pump()
    clock.advance(hours=3)
    assert container.scheduler is not None
    assert container.scheduler.sweep_no_shows() == 1
    again = book(client, email=EMAIL, date="2026-06-05")["reservation"]
    assert again["status"] == "pending"
    by_staff = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "date": "2026-06-06",
            "time": "21:00",
            "party_size": 2,
            "email": EMAIL,
            "name": "Ana",
        },
        headers=STAFF,
    )
    assert by_staff.status_code == 201, by_staff.text
    assert by_staff.json()["reservation"]["status"] == "confirmed"
    pump()
    wait(lambda: len(relay[0].messages) == 4)  # confirmation, no-show, pending, confirmation
    pending = emails(relay)[2]
    assert "Solicitud de reserva" in pending["Subject"]
    assert not any(p.get_content_type() == "image/png" for p in pending.walk())
    confirmed = client.post(f"/v1/reservations/{again['code']}/confirm", headers=STAFF)
    assert confirmed.status_code == 200, confirmed.text
    pump()
    wait(lambda: len(relay[0].messages) == 5)
    assert "Reserva confirmada" in emails(relay)[4]["Subject"]


# --- reminders ------------------------------------------------------------------------------


def test_reminders_fire_once_follow_a_moved_booking_and_skip_cancelled_ones(
    app: tuple[TestClient, Container], clock: FakeClock, twilio: RecordingServer
) -> None:
    client, container = app
    scheduler = container.scheduler
    assert scheduler is not None
    kept = book(client, phone=PHONE, date="2026-06-03", time="21:00")
    moved = book(client, phone="+34600333444", date="2026-06-03", time="21:00")
    dropped = book(client, phone="+34600555666", date="2026-06-03", time="21:00")
    book(client, phone="+34600777888", date="2026-06-02", time="13:00")
    assert client.post(
        f"/v1/reservations/{dropped['reservation']['code']}/cancel",
        headers={"X-Manage-Token": dropped["manage_token"]},
    ).is_success
    # Sunday... Tuesday 2 June 21:00 Madrid = 19:00 UTC: 24 h before the Wednesday bookings.
    clock.now = clock.now.replace(day=2, hour=19, minute=0)
    moved_to = client.patch(
        f"/v1/reservations/{moved['reservation']['code']}",
        json={"date": "2026-06-04", "time": "21:00"},
        headers={"X-Manage-Token": moved["manage_token"]},
    )
    assert moved_to.status_code == 200, moved_to.text
    assert scheduler.send_reminders() == 1  # the kept one (late's 24 h was due at booking)
    assert scheduler.send_reminders() == 0
    clock.advance(minutes=20)
    assert scheduler.send_reminders() == 0
    clock.advance(hours=24)  # Wednesday 21:20: the moved one's 24 h, and 2 h ones passed
    assert scheduler.send_reminders() == 1
    reminded = {
        kind.split(":")[0] + ":" + kind.split(":")[1]
        for code in (kept["reservation"]["code"], moved["reservation"]["code"])
        for kind, _ in sent_records(container, code)
        if kind.startswith("reminder")
    }
    assert reminded == {"reminder:1440"}
    assert [k for k, _ in sent_records(container, dropped["reservation"]["code"])] == []
    wait(lambda: len(twilio.requests) == 2)
    texts_ = sms_bodies(twilio)
    assert any("recordatorio" in t and "mié 3 jun 21:00" in t for t in texts_)
    assert any("recordatorio" in t and "jue 4 jun 21:00" in t for t in texts_)
    assert all("1. Sí, allí estaré" in t for t in texts_ if "recordatorio" in t)


def test_the_two_hour_reminder_fires_for_a_booking_made_the_same_day(
    app: tuple[TestClient, Container], clock: FakeClock
) -> None:
    client, container = app
    scheduler = container.scheduler
    assert scheduler is not None
    code = book(client, phone=PHONE, date="2026-06-01", time="21:00")["reservation"]["code"]
    clock.now = clock.now.replace(hour=17, minute=0)  # 19:00 Madrid: 2 h before
    assert scheduler.send_reminders() == 1
    clock.advance(minutes=30)
    assert scheduler.send_reminders() == 0
    assert [k.split(":")[:2] for k, _ in sent_records(container, code)] == [["reminder", "120"]]


def test_a_missed_reminder_is_dropped_after_the_catch_up_window(
    app: tuple[TestClient, Container], clock: FakeClock
) -> None:
    client, container = app
    scheduler = container.scheduler
    assert scheduler is not None
    book(client, phone=PHONE, date="2026-06-03", time="21:00")
    clock.now = clock.now.replace(day=2, hour=20, minute=1)  # 61 min after it was due
    assert scheduler.send_reminders() == 0


# --- answering a reminder -------------------------------------------------------------------


def test_a_reminder_answered_on_whatsapp_acts_on_the_booking(
    app: tuple[TestClient, Container], clock: FakeClock, graph: RecordingServer
) -> None:
    from tests.integration.conversation.test_conversation_channels import WhatsAppGuest, wa_text

    client, container = app
    # Staff note a booking the guest asked for on WhatsApp (only staff set its source).
    booked = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "date": "2026-06-04",
            "time": "21:00",
            "party_size": 2,
            "name": "Ana García",
            "phone": "+34600123456",
            "source": "whatsapp",
            "language": "es",
        },
        headers=STAFF,
    )
    assert booked.status_code == 201, booked.text
    code = booked.json()["reservation"]["code"]
    assert container.scheduler is not None
    clock.now = clock.now.replace(day=3, hour=19)  # Wednesday 21:00 Madrid: 24 h before
    assert container.scheduler.send_reminders() == 1
    wait(lambda: len(graph.requests) == 1)
    lucia = WhatsAppGuest(client, graph)
    coming = lucia.taps(f"rem:ok:{code}", "Sí, allí estaré", "button_reply")
    assert "Te esperamos el jueves, 4 de junio a las 21:00" in wa_text(coming)
    with container.engine.connect() as conn:
        actions = conn.execute(
            select(reservation_log.c.action).where(
                reservation_log.c.reservation_id == container.booking.get(code).id
            )
        ).scalars()
        assert "attendance_confirmed" in list(actions)
    assert container.booking.get(code).status.value == "confirmed"
    asked = lucia.taps(f"rem:cancel:{code}", "Cancelarla", "button_reply")
    assert f"¿Cancelo tu reserva {code}" in wa_text(asked)
    assert container.booking.get(code).status.value == "confirmed"  # not before the yes
    yes = asked["interactive"]["action"]["buttons"][0]["reply"]
    lucia.taps(yes["id"], yes["title"], "button_reply")
    assert container.booking.get(code).status.value == "cancelled"
    # Someone else's code in a forged button acts on nothing.
    other = book(client, phone="+34699999999", time="20:00")["reservation"]["code"]
    lucia.taps(f"rem:ok:{other}", "Sí", "button_reply")
    lucia.taps(f"rem:cancel:{other}", "Cancelarla", "button_reply")
    assert container.booking.get(other).status.value == "confirmed"


def test_a_reminder_answered_by_sms_with_its_number(
    app: tuple[TestClient, Container], clock: FakeClock, twilio: RecordingServer
) -> None:
    from tests.integration.conversation.test_conversation_channels import SmsGuest

    client, container = app
    made = book(client, phone="+447700900123", time="21:00", language="en")
    code = made["reservation"]["code"]
    assert container.scheduler is not None
    clock.now = clock.now.replace(day=4, hour=17)  # 19:00 Madrid: 2 h before
    assert container.scheduler.send_reminders() == 1
    wait(lambda: len(twilio.requests) == 1)
    reminder = sms_bodies(twilio)[0]
    assert "3. Cancel it" in reminder
    asked = SmsGuest(client, twilio).says("3")
    assert f"Shall I cancel your booking {code}" in asked


def test_a_booking_made_in_the_whatsapp_chat_gets_its_qr_there_and_no_second_notice(
    app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    from tests.integration.conversation.test_conversation_channels import WhatsAppGuest, wa_text

    client, container = app
    pump = Pump(container)
    lucia = WhatsAppGuest(client, graph)
    confirm = lucia.says("mesa para 2 el jueves a las 21:00")
    assert "¿Te reservo mesa para 2 personas" in wa_text(confirm)
    yes = confirm["interactive"]["action"]["buttons"][0]["reply"]
    lucia.taps(yes["id"], yes["title"], "button_reply")
    wait(lambda: graph_docs(graph)[-1]["type"] == "image")
    booked, image = graph_docs(graph)[-2:]
    assert "¡Reserva confirmada!" in wa_text(booked)
    code = wa_text(booked).split("Código: ", 1)[1].split("\n", 1)[0]
    assert code in image["image"]["caption"]
    link = image["image"]["link"]
    assert link.startswith(f"{PUBLIC}/v1/reservations/")
    assert client.get(link.replace(PUBLIC, "")).headers["content-type"] == "image/png"
    before = len(graph.requests)
    pump()
    assert container.gateway is not None
    while container.gateway.deliver_due():
        pass
    assert len(graph.requests) == before  # the bot said it all in the chat


def test_a_chat_booking_awaiting_approval_is_not_called_confirmed_until_staff_confirm(
    app: tuple[TestClient, Container], clock: FakeClock, graph: RecordingServer
) -> None:
    from tests.integration.conversation.test_conversation_channels import WhatsAppGuest, wa_text

    client, container = app
    pump = Pump(container)
    rules = client.get("/v1/restaurants/demo/rules", headers=STAFF).json()
    client.put(
        "/v1/restaurants/demo/rules", json={**rules, "no_show_approval_after": 1}, headers=STAFF
    )
    book(client, phone="+34600123456", date="2026-06-01", time="13:00", name="Lucía")
    clock.advance(hours=3)
    assert container.scheduler is not None
    assert container.scheduler.sweep_no_shows() == 1
    pump()  # (no channel chosen and no email: the phone gets SMS, not WhatsApp)
    lucia = WhatsAppGuest(client, graph)
    confirm = lucia.says("mesa para 2 el jueves a las 21:00")
    yes = confirm["interactive"]["action"]["buttons"][0]["reply"]
    answer = wa_text(lucia.taps(yes["id"], yes["title"], "button_reply"))
    assert "Hemos recibido tu solicitud" in answer
    assert "confirmada" not in answer
    code = answer.split("Código: ", 1)[1].split("\n", 1)[0]
    assert container.booking.get(code).status.value == "pending"
    before = len(graph.requests)
    assert client.post(f"/v1/reservations/{code}/confirm", headers=STAFF).is_success
    pump()
    wait(lambda: len(graph.requests) == before + 2)
    text, image = graph_docs(graph)[-2:]
    assert "tu reserva está confirmada" in text["text"]["body"]
    assert image["type"] == "image"


def test_the_embedded_default_notifies_without_a_worker(
    settings: Settings, clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> None:
    """One process, no Redis, no `saveit worker`: the app relays, notifies and sends."""
    with channel_app(
        settings,
        clock,
        {"email": {"address": EMAIL_ADDRESS}},
        relay_in_process=None,
        redis_url=None,
        relay_poll_interval_s=0.02,
        smtp_relay_host=EMAIL_HOST,
        smtp_relay_port=relay[1],
        smtp_relay_starttls=False,
    ) as (client, _container):
        made = book(client, email=EMAIL, language="en")
        wait(lambda: len(relay[0].messages) == 1)
    mail = emails(relay)[0]
    assert mail["Subject"] == "Booking confirmed at Casa Demo: Thu Jun 4, 21:00"
    assert made["reservation"]["code"] in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_pending_booking_the_restaurant_never_approved_is_not_a_no_show(
    app: tuple[TestClient, Container], clock: FakeClock
) -> None:
    client, container = app
    made = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "date": "2026-06-01",
            "time": "13:00",
            "party_size": 2,
            "name": "Ana",
            "email": EMAIL,
            "status": "pending",
        },
        headers=STAFF,
    )
    assert made.status_code == 201, made.text
    clock.advance(hours=3)
    assert container.scheduler is not None
    assert container.scheduler.sweep_no_shows() == 0
    view = container.booking.get(made.json()["reservation"]["code"])
    assert view.status.value == "pending"
    assert view.guest is not None
    assert view.guest.no_show_count == 0


# --- what a notice costs when nobody can be told ---------------------------------------------


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL ``engine`` runs meanwhile (transaction control left out: SQLite's
    ``BEGIN`` goes through the cursor, PostgreSQL's reads run in autocommit)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def published(container: Container) -> list[Event]:
    """Every event in the outbox, as the notifier's consumer would get them."""
    container.relay.publish_pending()
    got: list[Event] = []
    Consumer(
        container.bus, f"spy-{uuid.uuid4().hex}", got.append, processed=MemoryProcessedStore()
    ).poll_once(block_ms=0)
    return got


def web_chat_guest(container: Container, clock: FakeClock, visitor: str) -> int:
    """A guest known only by the web chat they wrote in; returns their id."""
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        return convs.resolve(conn, rid, "webchat", visitor, name="Lucía", now=clock()).guest_id


def queued(container: Container) -> list[tuple[str, str]]:
    with container.engine.connect() as conn:
        rows = conn.execute(select(notifications_table.c.kind, notifications_table.c.channel))
        return sorted((r.kind, r.channel) for r in rows)


BY_STAFF = Actor("staff", "ana", "dashboard")
THURSDAY = datetime(2026, 6, 4, 19, 0, tzinfo=UTC)


def test_a_booking_nobody_can_be_told_about_costs_one_read_and_is_never_read_back(
    container: Container, demo: str
) -> None:
    """The restaurant has no channel account and none of its guests wrote in the
    web chat: each event costs one read of its guest (and the restaurant's
    accounts are read once), never the booking, never a write."""
    notifier = container.notifier
    assert notifier is not None
    booking = container.booking
    codes = [
        booking.create(
            CreateReservation(demo, THURSDAY, 2, GuestDetails("Ana", phone=PHONE)), BY_STAFF
        ).reservation.code,
        booking.create(
            CreateReservation(
                demo, THURSDAY, 2, GuestDetails("Eva", email=EMAIL), source="whatsapp"
            ),
            BY_STAFF,
        ).reservation.code,
    ]
    booking.modify(ModifyReservation(codes[0], start=THURSDAY.replace(hour=20)), BY_STAFF)
    booking.cancel(codes[1], BY_STAFF, reason="closed")
    events = published(container)
    assert [e.type for e in events].count("reservation.created") == 2
    assert len(events) == 4
    with statements(container.engine) as ran:
        for e in events:
            notifier.handle(e)
    assert len(ran) <= len(events) + 1, ran
    assert sum("channel_accounts" in s for s in ran) <= 1, ran  # remembered per restaurant
    assert not any("reservations" in s for s in ran), ran  # the booking is not read back
    assert all(s.lstrip().upper().startswith("SELECT") for s in ran), ran
    assert queued(container) == []


def test_a_batch_reads_its_guests_reach_once_and_each_is_told_as_alone(
    container: Container, demo: str, clock: FakeClock
) -> None:
    """The consumer prepares a batch (``Notifier.prepare``): one read of every
    guest's reach, then the same notices as event by event, for the web chat
    guest among guests nobody can tell."""
    notifier = container.notifier
    assert notifier is not None
    lucia = web_chat_guest(container, clock, "visitor-9")
    for n in range(6):
        container.booking.create(
            CreateReservation(
                demo,
                THURSDAY + timedelta(days=n),
                2,
                GuestDetails(f"G{n}", phone=f"+3461100{n:04d}"),
            ),
            BY_STAFF,
        )
    chat = container.booking.create(
        CreateReservation(demo, THURSDAY, 2, source="webchat", guest_id=lucia), BY_STAFF
    ).reservation
    events = published(container)
    assert len(events) == 7
    with statements(container.engine) as ran:
        notifier.prepare(events)
        for e in events:
            notifier.handle(e)
    reach_reads = [s for s in ran if "notify_channels" in s]
    assert len(reach_reads) == 1, reach_reads
    assert queued(container) == [("confirmation", "webchat")]
    assert sent_records(container, chat.code) == [("confirmation", "webchat")]


def test_a_web_chat_guest_hears_there_without_any_channel_account(
    container: Container, demo: str, clock: FakeClock
) -> None:
    """The web chat needs no account: its guest is told there, once however often
    the event comes, while a guest known only by phone is not told at all."""
    notifier = container.notifier
    assert notifier is not None
    lucia = web_chat_guest(container, clock, "visitor-1")
    chat = container.booking.create(
        CreateReservation(demo, THURSDAY, 2, source="webchat", guest_id=lucia), BY_STAFF
    ).reservation
    container.booking.create(
        CreateReservation(demo, THURSDAY, 2, GuestDetails("Ana", phone=PHONE)), BY_STAFF
    )
    events = published(container)
    for _ in range(2):
        for e in events:
            notifier.handle(e)
    assert queued(container) == [("confirmation", "webchat")]
    assert sent_records(container, chat.code) == [("confirmation", "webchat")]


def test_a_guest_merged_since_the_event_is_still_told(
    container: Container, demo: str, clock: FakeClock
) -> None:
    """The event names a guest folded into another since (a proven link): the
    booking read back names who to tell, through the identity that moved."""
    notifier = container.notifier
    assert notifier is not None
    visitor = web_chat_guest(container, clock, "visitor-2")
    made = container.booking.create(
        CreateReservation(demo, THURSDAY, 2, source="webchat", guest_id=visitor), BY_STAFF
    ).reservation
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        known = convs.resolve(conn, rid, "webchat", "visitor-3", name="Lucía", now=clock())
        convs.merge_guests(conn, source=visitor, target=known.guest_id, now=clock())
    (created,) = published(container)
    assert created.payload["reservation"]["guest_id"] == visitor
    notifier.handle(created)
    assert sent_records(container, made.code) == [("confirmation", "webchat")]


def told_nobody_yet(container: Container, demo: str) -> tuple[Notifier, str, Event]:
    """A booking by a guest known by email alone, handled before the restaurant
    has an email account: nobody is told, and that is now remembered."""
    notifier = container.notifier
    assert notifier is not None
    made = container.booking.create(
        CreateReservation(demo, THURSDAY, 2, GuestDetails("Eva", email=EMAIL)), BY_STAFF
    ).reservation
    (created,) = published(container)
    notifier.handle(created)
    assert queued(container) == []
    return notifier, made.code, created


def test_a_channel_account_added_applies_to_notices_once_remembered_accounts_lapse(
    container: Container, demo: str, clock: FakeClock
) -> None:
    notifier, code, created = told_nobody_yet(container, demo)
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        accounts.put(
            conn, rid, "email", EMAIL_ADDRESS, {}, clock(), box=container.box, proven_by="admin"
        )
    assert notifier.directory.channels(rid) == frozenset()  # remembered for a moment...
    notifier.handle(created)
    assert queued(container) == []
    notifier.directory.forget()  # ... as an edit in this process, or its lapse, ends
    assert notifier.directory.channels(rid) == {"email"}
    notifier.handle(created)
    assert sent_records(container, code) == [("confirmation", "email")]
    fresh = AccountDirectory(container.engine, ttl_s=0.0)
    with container.engine.begin() as conn:
        accounts.remove(conn, rid, "email")
    assert fresh.channels(rid) == frozenset()


def test_an_account_added_through_the_api_applies_to_the_very_next_notice(
    container: Container, demo: str
) -> None:
    """The notifier shares the gateway's memory of accounts, which the channel
    endpoints clear on every edit: no notice waits out the memory's lapse."""
    notifier, code, created = told_nobody_yet(container, demo)
    with TestClient(create_app(container)) as api:
        answer = api.put(
            "/v1/restaurants/demo/channels/email",
            json={"address": EMAIL_ADDRESS},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert answer.status_code == 200, answer.text
    notifier.handle(created)
    assert sent_records(container, code) == [("confirmation", "email")]
