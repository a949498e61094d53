"""The satisfaction survey's rules: one per booking, never for cancelled or no-show
bookings, one per guest per week, never after an opt-out or with the restaurant's
switch off, WhatsApp only inside the 24-hour window unless a template exists; and
the answer through the chat, a low rating handing the conversation to staff.
Clock: Monday 2026-06-01 11:00 in Madrid."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from saveit.analytics.survey import Surveys
from saveit.analytics.survey_chat import SurveyChat
from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.conversation.bot import BotResponder
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.events import Event
from saveit.messaging.gateway import Gateway
from saveit.notify.notifier import Notifier
from saveit.realtime.messages import event_messages
from saveit.store.schema import conversations, outbox
from tests.conftest import ADMIN_TOKEN
from tests.integration.conversation.test_conversation_dialogue import Guest, make_gateway, text
from tests.integration.messaging.test_channels_gateway import (
    SMS_NUMBER,
    WA_NUMBER_ID,
    ScriptedSender,
)
from tests.support import FakeClock, assign_account

STAFF = Actor("staff", "ana", "dashboard")
LUNCH = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)  # 13:00 in Madrid


@pytest.fixture
def senders() -> dict[str, ScriptedSender]:
    return {name: ScriptedSender(name) for name in ("whatsapp", "sms", "webchat")}


@pytest.fixture
def gateway(
    container: Container, demo: str, clock: FakeClock, senders: dict[str, ScriptedSender]
) -> Gateway:
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    assign_account(container, demo, "sms", SMS_NUMBER, {}, clock())
    return make_gateway(container, clock, senders)


@pytest.fixture
def surveys(container: Container, gateway: Gateway, clock: FakeClock) -> Surveys:
    """Surveys sent through the test's gateway, answered through its bot."""
    assert container.analytics is not None
    notifier = Notifier(
        container.booking, gateway.delivery, clock=clock, directory=gateway.directory
    )
    made = Surveys(
        container.engine,
        notifier,
        gateway.delivery,
        restaurant_of=container.analytics.restaurant,
        clock=clock,
    )
    assert isinstance(gateway.responder, BotResponder)
    gateway.responder.survey = SurveyChat(made)
    return made


def visit(
    container: Container,
    phone: str,
    start: datetime = LUNCH,
    *,
    source: str = "sms",
    end_as: str = "completed",
) -> str:
    code = container.booking.create(
        CreateReservation("demo", start, 2, GuestDetails(name="Lucía", phone=phone), source=source),
        STAFF,
    ).reservation.code
    if end_as == "cancelled":
        container.booking.cancel(code, STAFF)
    elif end_as == "no_show":
        container.booking.no_show(code, STAFF)
    else:
        container.booking.check_in(code, STAFF)
        if end_as == "completed":
            container.booking.complete(code, STAFF)
    return code


def status_of(surveys: Surveys, code: str) -> str | None:
    found = surveys.of_reservation(code)
    return None if found is None else found.status


def test_one_survey_per_visit_and_none_for_cancelled_or_no_show(
    container: Container,
    surveys: Surveys,
    gateway: Gateway,
    clock: FakeClock,
    senders: dict[str, ScriptedSender],
) -> None:
    done = visit(container, "+34600000001")
    cancelled = visit(container, "+34600000002", end_as="cancelled")
    no_show = visit(container, "+34600000003", end_as="no_show")
    seated = visit(container, "+34600000004", end_as="checked_in")  # stay not over yet
    assert surveys.send_due() == 1  # completed: over at once
    assert surveys.send_due() == 0  # never twice
    clock.advance(hours=4)  # the checked-in stay (13:00-14:30 in Madrid) is over
    assert surveys.send_due() == 1
    assert surveys.send_due() == 0
    while gateway.deliver_due():
        pass
    asked = [m for _, m, _ in senders["sms"].sent]
    assert len(asked) == 2
    assert "del 1 (mal) al 5 (excelente)" in asked[0].text
    assert [o.id for o in asked[0].choices] == [f"survey:{n}" for n in range(1, 6)]
    assert status_of(surveys, done) == "sent"
    assert status_of(surveys, seated) == "sent"
    assert status_of(surveys, cancelled) is None
    assert status_of(surveys, no_show) is None


def test_one_survey_per_guest_per_week(
    container: Container, surveys: Surveys, clock: FakeClock
) -> None:
    first = visit(container, "+34600000001")
    assert surveys.send_due() == 1
    clock.advance(days=1)
    second = visit(container, "+34600000001", LUNCH + timedelta(days=1))
    assert surveys.send_due() == 0
    assert status_of(surveys, first) == "sent"
    assert status_of(surveys, second) == "skipped:weekly_cap"
    clock.advance(days=7)
    third = visit(container, "+34600000001", LUNCH + timedelta(days=8))
    assert surveys.send_due() == 1
    assert status_of(surveys, third) == "sent"


def test_no_survey_after_an_opt_out_or_with_the_switch_off(
    container: Container,
    surveys: Surveys,
    gateway: Gateway,
    senders: dict[str, ScriptedSender],
    clock: FakeClock,
) -> None:
    surveys.set_settings("demo", False, 0)
    off = visit(container, "+34600000001")
    assert surveys.send_due() == 0
    assert status_of(surveys, off) == "skipped:switched_off"
    surveys.set_settings("demo", True, 0)
    clock.advance(days=1)
    lucia = Guest(gateway, senders, channel="sms", phone="+34600000009", name=None)
    first = visit(container, lucia.phone, LUNCH + timedelta(days=1))
    assert surveys.send_due() == 1
    assert "no te enviaremos más encuestas" in text(lucia.says("No más encuestas"))
    clock.advance(days=8)
    after = visit(container, lucia.phone, LUNCH + timedelta(days=9))
    assert surveys.send_due() == 0
    assert status_of(surveys, first) == "sent"
    assert status_of(surveys, after) == "skipped:opted_out"


def test_whatsapp_outside_the_window_needs_the_template(
    container: Container,
    surveys: Surveys,
    gateway: Gateway,
    senders: dict[str, ScriptedSender],
    clock: FakeClock,
) -> None:
    lucia = Guest(gateway, senders)  # writes on WhatsApp now: the window opens
    lucia.says("hola")
    clock.advance(days=2)  # the window has closed
    closed = visit(container, lucia.phone, LUNCH + timedelta(days=2), source="whatsapp")
    assert surveys.send_due() == 0
    assert status_of(surveys, closed) == "skipped:no_channel"
    assign_account(
        container,
        "demo",
        "whatsapp",
        WA_NUMBER_ID,
        {"access_token": "t", "template_name": "visit_survey"},
        clock(),
    )
    clock.advance(days=8)
    templated = visit(container, lucia.phone, LUNCH + timedelta(days=10), source="whatsapp")
    assert surveys.send_due() == 1
    assert status_of(surveys, templated) == "sent"


def test_the_answer_is_kept_with_the_booking_and_a_low_one_goes_to_staff(
    container: Container,
    surveys: Surveys,
    gateway: Gateway,
    senders: dict[str, ScriptedSender],
    clock: FakeClock,
) -> None:
    lucia = Guest(gateway, senders)
    lucia.says("hola")
    code = visit(container, lucia.phone, source="whatsapp")
    clock.advance(minutes=30)
    assert surveys.send_due() == 1
    while gateway.deliver_due():
        pass
    question = senders["whatsapp"].sent[-1][1]
    assert question.options
    sorry = lucia.taps(question, 1)  # "2 Regular"
    assert "Una persona del equipo te escribirá" in text(sorry)
    assert lucia.says("La comida llegó fría") == []  # staff have the conversation now
    answered = surveys.of_reservation(code)
    assert answered is not None
    assert (answered.status, answered.rating, answered.comment) == ("answered", 2, None)
    with container.engine.connect() as conn:
        handed = conn.execute(select(conversations.c.handoff)).scalars().all()
        kinds = conn.execute(select(outbox.c.type)).scalars().all()
        told = conn.execute(
            select(outbox.c.payload).where(outbox.c.type == "survey.answered")
        ).scalar_one()
    assert handed == [True]
    assert "survey.answered" in kinds  # the live feed hears it
    assert (told["survey"]["reservation"], told["survey"]["rating"]) == (code, 2)
    live = event_messages(
        Event("e", "survey.answered", 1, told, clock(), 1),
        lambda _: container.booking.restaurant("demo"),
    )
    assert json.loads(live[0].text)["survey"]["rating"] == 2
    assert "conversation.handed_off" in kinds
    with TestClient(create_app(container)) as api:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        stored = api.get(f"/v1/reservations/{code}/survey", headers=admin)
        assert stored.status_code == 200, stored.text
        assert stored.json()["rating"] == 2
        guest_id = answered.guest_id
        profile = api.get(f"/v1/restaurants/demo/guests/{guest_id}/surveys", headers=admin)
        assert [s["reservation"] for s in profile.json()] == [code]


def test_a_good_rating_typed_with_a_comment(
    container: Container,
    surveys: Surveys,
    gateway: Gateway,
    senders: dict[str, ScriptedSender],
) -> None:
    john = Guest(gateway, senders, channel="sms", phone="+34600333444", name=None)
    code = visit(container, john.phone)
    assert surveys.send_due() == 1
    thanks = john.says("5 todo perfecto, gracias")
    assert "Gracias" in text(thanks)
    answered = surveys.of_reservation(code)
    assert answered is not None
    assert (answered.rating, answered.comment) == (5, "todo perfecto, gracias")
    with container.engine.connect() as conn:
        assert conn.execute(select(conversations.c.handoff)).scalars().all() == [False]
    booking = john.says("quiero reservar mesa para 2 mañana a las 21:00")
    assert "21:00" in text(booking)  # the survey lets the dialogue have the rest
