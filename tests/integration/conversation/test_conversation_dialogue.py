"""The bot as guests meet it: booking, correcting, changing, cancelling, asking, on both
backends, through the real gateway (provider senders stood in at the port).

The clock stands at Monday 2026-06-01 11:00 in Madrid; the demo restaurant
serves lunch 13:00-16:00 and dinner 20:00-23:30 every day.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from saveit.bootstrap import Container
from saveit.conversation.bot import BotResponder
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.messages import Choice, InboundMessage, OutboundMessage, WebhookBatch
from saveit.domain.model import SpecialDate, Status
from saveit.messaging.gateway import Gateway
from saveit.messaging.identity import IdentityLinks
from saveit.store import conversations as convs
from saveit.store import restaurants as restaurant_store
from tests.integration.messaging.test_channels_gateway import (
    SMS_NUMBER,
    WA_NUMBER_ID,
    ScriptedSender,
)
from tests.support import FakeClock, assign_account

_ids = itertools.count()


@pytest.fixture
def senders() -> dict[str, ScriptedSender]:
    return {name: ScriptedSender(name) for name in ("whatsapp", "sms", "webchat")}


def make_gateway(
    container: Container, clock: FakeClock, senders: dict[str, ScriptedSender]
) -> Gateway:
    bot = BotResponder(container.booking, pending_minutes=30)
    gateway = Gateway(container.engine, senders=senders, responder=bot, clock=clock)
    bot.links = IdentityLinks(
        container.engine, wake=gateway.delivery.ready.set, secret=b"test-secret", clock=clock
    )
    return gateway


@pytest.fixture
def gateway(
    container: Container, demo: str, clock: FakeClock, senders: dict[str, ScriptedSender]
) -> Gateway:
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    assign_account(container, demo, "sms", SMS_NUMBER, {}, clock())
    return make_gateway(container, clock, senders)


@dataclass
class Guest:
    """One guest writing on one channel; ``says`` returns what the bot answered."""

    gateway: Gateway
    senders: dict[str, ScriptedSender]
    channel: str = "whatsapp"
    phone: str = "+34600111222"
    name: str | None = "Lucía"

    def says(self, text: str, choice: Choice | None = None) -> list[OutboundMessage]:
        sender = self.senders[self.channel]
        before = len(sender.sent)
        message = InboundMessage(
            channel=self.channel,  # type: ignore[arg-type]
            provider_message_id=f"{self.channel}-{next(_ids)}",
            sender=self.phone,
            recipient={"whatsapp": WA_NUMBER_ID, "sms": SMS_NUMBER}.get(self.channel, "demo"),
            text=text,
            sent_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
            choice=choice,
            sender_name=self.name,
        )
        self.gateway.receive(WebhookBatch(messages=[message]))
        while self.gateway.answer_inbound() or self.gateway.deliver_due():
            pass
        return [m for _, m, _ in sender.sent[before:]]

    def taps(self, reply: OutboundMessage, index: int) -> list[OutboundMessage]:
        picked = reply.choices[index]
        return self.says(picked.title, Choice(picked.id, picked.title))


def text(replies: list[OutboundMessage]) -> str:
    return "\n".join(m.text for m in replies)


def booked_code(replies: list[OutboundMessage]) -> str:
    for line in text(replies).splitlines():
        if line.startswith(("Código:", "Code:")):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no confirmation in {text(replies)!r}")


@pytest.fixture
def lucia(gateway: Gateway, senders: dict[str, ScriptedSender]) -> Guest:
    return Guest(gateway, senders)


def test_a_spanish_request_with_everything_books_after_a_yes(
    container: Container, lucia: Guest
) -> None:
    asked = lucia.says("Hola! quiero reservar mesa para 4 mñn a las 9 de la noche x favor")
    assert "4 personas" in text(asked)
    assert "martes, 2 de junio" in text(asked)
    assert "21:00" in text(asked)
    assert "Lucía" in text(asked)  # the WhatsApp profile name
    assert [b.title for b in asked[-1].buttons] == ["Sí", "No"]
    assert container.booking.list_for_day("demo", datetime(2026, 6, 2).date()) == []

    done = lucia.says("si")
    view = container.booking.get(booked_code(done))
    assert view.status is Status.CONFIRMED
    assert view.party_size == 4
    assert view.start == datetime(2026, 6, 2, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
    assert view.source == "whatsapp"
    assert view.guest is not None
    assert view.guest.phone == "+34600111222"  # the chat's own guest, not a new one


def test_the_bot_asks_one_missing_thing_at_a_time_and_offers_times(
    container: Container, lucia: Guest
) -> None:
    assert "¿Para qué día" in text(lucia.says("quiero reservar"))
    assert "¿Cuántas personas" in text(lucia.says("el viernes"))
    times = lucia.says("somos 3")
    assert "viernes, 5 de junio" in text(times)
    offered = [o.title for o in times[-1].options]
    assert 4 <= len(offered) <= 10
    assert "13:00" in offered
    assert any(t.startswith("2") for t in offered)  # dinner too
    index = offered.index(next(t for t in offered if t.startswith("21")))
    confirm = lucia.taps(times[-1], index)
    assert offered[index] in text(confirm)
    view = container.booking.get(booked_code(lucia.taps(confirm[-1], 0)))
    assert view.party_size == 3
    assert (
        view.start.astimezone(container.booking.restaurant("demo").tz).strftime("%a %H:%M")
        == f"Fri {offered[index]}"
    )


def fill(container: Container, start: datetime, party: int) -> None:
    """Book tables at ``start`` until none is left for ``party``."""
    staff = Actor("staff", "ana", "dashboard")
    for i in range(40):
        try:
            container.booking.create(
                CreateReservation("demo", start, party, GuestDetails(name=f"Other {i}")), staff
            )
        except (errors.SlotTaken, errors.NoSuitableTable):
            return
    raise AssertionError("the restaurant never filled up")


def test_a_taken_time_gets_the_nearest_free_ones_and_the_guest_picks_one(
    container: Container, lucia: Guest
) -> None:
    fill(container, datetime(2026, 6, 2, 19, 0, tzinfo=UTC), 4)
    offered = lucia.says("mesa para 4 mañana a las 21:00")
    assert "no me queda mesa" in text(offered)
    choices = [c.title for c in offered[-1].choices]
    assert choices
    assert "21:00" not in choices
    confirm = lucia.taps(offered[-1], 0)
    code = booked_code(lucia.says("vale"))
    start = container.booking.get(code).start.astimezone(container.booking.restaurant("demo").tz)
    assert choices[0].endswith(start.strftime("%H:%M"))
    assert start.strftime("%H:%M") in text(confirm)


def test_a_correction_mid_flow_changes_the_pending_request(
    container: Container, lucia: Guest
) -> None:
    first = lucia.says("reserva para 2 mañana a las 21:00")
    assert "21:00" in text(first)
    corrected = lucia.says("no, mejor a las 22:00")
    assert "22:00" in text(corrected)
    assert "2 personas" in text(corrected)
    view = container.booking.get(booked_code(lucia.says("sí")))
    assert view.start == datetime(2026, 6, 2, 20, 0, tzinfo=UTC)


def test_english_over_sms_is_answered_in_english(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    john = Guest(gateway, senders, channel="sms", phone="+447700900123", name=None)
    asked = john.says("Hi, can I get a table for 2 tomorrow at 8pm please?")
    assert "What name" in text(asked)  # nobody has told us John's name yet
    asked = john.says("John Smith")
    assert "Shall I book a table for 2 people on Tuesday, June 2 at 20:00 under John Smith" in (
        text(asked)
    )
    assert [b.title for b in asked[-1].buttons] == ["Yes", "No"]
    view = container.booking.get(booked_code(john.says("yes")))
    assert view.guest is not None
    assert view.guest.name == "John Smith"


def book(lucia: Guest, request: str) -> str:
    lucia.says(request)
    return booked_code(lucia.says("sí"))


def test_cancel_asks_which_when_there_are_several_and_confirms(
    container: Container, lucia: Guest
) -> None:
    first = book(lucia, "mesa para 2 mañana a las 21:00")
    second = book(lucia, "mesa para 4 el viernes a las 14:00")
    which = lucia.says("quiero cancelar mi reserva")
    assert "¿Cuál" in text(which)
    assert len(which[-1].choices) == 2
    sure = lucia.taps(which[-1], 1)
    assert second in text(sure)
    done = lucia.says("sí")
    assert "cancelada" in text(done)
    assert container.booking.get(second).status is Status.CANCELLED
    assert container.booking.get(first).status is Status.CONFIRMED


def test_modify_moves_the_only_booking_after_a_yes(container: Container, lucia: Guest) -> None:
    code = book(lucia, "mesa para 2 mañana a las 21:00")
    sure = lucia.says("¿podemos cambiar la reserva a las 22:00?")
    assert code in text(sure)
    assert "22:00" in text(sure)
    assert container.booking.get(code).start == datetime(2026, 6, 2, 19, 0, tzinfo=UTC)
    moved = lucia.says("sí")
    assert "cambiada" in text(moved)
    assert container.booking.get(code).start == datetime(2026, 6, 2, 20, 0, tzinfo=UTC)


def test_another_guests_code_is_never_acted_on(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender], lucia: Guest
) -> None:
    theirs = container.booking.create(
        CreateReservation(
            "demo",
            datetime(2026, 6, 2, 19, 0, tzinfo=UTC),
            2,
            GuestDetails(name="Pedro", phone="+34600999888"),
        ),
        Actor("guest", "web", "api"),
    ).reservation.code
    book(lucia, "mesa para 2 mañana a las 14:00")
    answer = lucia.says(f"cancela la reserva {theirs}")
    assert "No encuentro la reserva" in text(answer)
    lucia.says("sí")
    assert container.booking.get(theirs).status is Status.CONFIRMED


def test_my_reservations_and_opening_hours(lucia: Guest) -> None:
    assert "No tienes reservas" in text(lucia.says("qué reservas tengo?"))
    assert "¿Para qué día" in text(lucia.says("sí"))  # "¿Quieres hacer una?"
    code = book(lucia, "mesa para 2 mañana a las 21:00")
    mine = text(lucia.says("qué reservas tengo?"))
    assert code in mine
    assert "martes, 2 de junio" in mine
    hours = text(lucia.says("abrís el domingo?"))
    assert "domingo, 7 de junio" in hours
    assert "13:00" in hours
    assert "23:30" in hours


def test_handoff_stops_the_bot_until_staff_hand_it_back(container: Container, lucia: Guest) -> None:
    told = lucia.says("quiero hablar con una persona")
    assert "Te paso con una persona" in text(told)
    assert lucia.says("hola?") == []
    with container.engine.connect() as conn:
        found = convs.of_restaurant(conn, restaurant_store.id_of(conn, "demo"))
    assert [c.handoff for c in found] == [True]
    with container.engine.begin() as conn:
        convs.set_handoff(conn, found[0].id, False)
    assert lucia.says("hola") != []


def test_two_misunderstood_messages_offer_help_or_a_person(lucia: Guest) -> None:
    first = lucia.says("jajaja")
    assert "no te he entendido" in text(first)
    second = lucia.says("asdf qwerty")
    assert [b.id for b in second[-1].buttons] == ["menu:book", "menu:hours", "menu:human"]


def test_an_unconfirmed_request_expires(
    container: Container, lucia: Guest, clock: FakeClock
) -> None:
    lucia.says("mesa para 2 mañana a las 21:00")
    clock.advance(minutes=31)
    lucia.says("sí")
    assert container.booking.list_for_day("demo", datetime(2026, 6, 2).date()) == []


def test_another_process_and_a_linked_channel_continue_the_conversation(
    container: Container,
    gateway: Gateway,
    clock: FakeClock,
    senders: dict[str, ScriptedSender],
    lucia: Guest,
) -> None:
    lucia.says("quiero reservar mañana")
    # Another process (a fresh gateway and bot) picks the dialogue up from the database,
    # and the same phone number on SMS is the same guest in the same conversation.
    elsewhere = Guest(make_gateway(container, clock, senders), senders, channel="sms", name=None)
    asked = elsewhere.says("somos 2")
    assert asked
    assert "martes, 2 de junio" in text(asked)
    confirm = elsewhere.says("a las 21:00")
    assert "Lucía" in text(confirm)
    view = container.booking.get(booked_code(elsewhere.says("si")))
    assert view.party_size == 2


def test_hours_and_booking_follow_special_dates(container: Container, lucia: Guest) -> None:
    with container.engine.begin() as conn:
        restaurant_store.put_special_date(
            conn,
            restaurant_store.id_of(conn, "demo"),
            SpecialDate(date(2026, 6, 5), closed=True, note="private event"),
        )
    container.booking.cache.forget("demo")
    assert "El viernes, 5 de junio estamos cerrados" in text(lucia.says("abrís el viernes?"))
    refused = text(lucia.says("mesa para 2 el viernes a las 21:00"))
    assert "estamos cerrados" in refused
    assert "¿Te reservo" not in refused


def test_an_english_correction_changes_the_party(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    john = Guest(gateway, senders, channel="sms", phone="+447700900555", name="John")
    assert "for 2 people" in text(john.says("table for 2 tomorrow at 8pm please"))
    corrected = text(john.says("actually 3 of us"))
    assert "Shall I book a table for 3 people on Tuesday, June 2 at 20:00" in corrected
    view = container.booking.get(booked_code(john.says("yes")))
    assert view.party_size == 3


def test_bare_numbers_answer_the_question_just_asked(container: Container, lucia: Guest) -> None:
    assert "¿Para qué día" in text(lucia.says("quiero reservar"))
    assert "¿Cuántas personas" in text(lucia.says("15"))  # the 15th: June 15
    times = lucia.says("4")
    assert "lunes, 15 de junio" in text(times)
    # A digit would pick the 9th time listed (as on SMS); an hour is said with words.
    confirm = text(lucia.says("a las 9"))  # at a place open for dinner: 21:00
    assert "4 personas el lunes, 15 de junio a las 21:00" in confirm
    view = container.booking.get(booked_code(lucia.says("1")))  # "1. Sí" typed
    assert view.start == datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def test_a_web_chat_guest_proves_their_phone_with_a_code_and_sees_their_bookings(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender], lucia: Guest
) -> None:
    code = book(lucia, "mesa para 2 mañana a las 21:00")
    web = Guest(gateway, senders, channel="webchat", phone="wc_0123456789abcdef", name=None)
    none = text(web.says("qué reservas tengo?"))
    assert "No tienes reservas" in none
    assert "dime ese número o email" in none

    sent = len(senders["whatsapp"].sent)
    claimed = text(web.says("mi móvil es 600 111 222"))
    assert "Te he enviado un código de 6 cifras a 600 111 222" in claimed
    assert code not in claimed  # a claim alone reveals nothing
    [(to, message, _)] = senders["whatsapp"].sent[sent:]
    assert to == "+34600111222"  # the code goes to the phone, over the channel that reaches it
    secret = next(w for w in message.text.split() if w.rstrip(".").isdigit()).rstrip(".")
    wrong = "000000" if secret != "000000" else "111111"
    assert "Te quedan 4 intentos" in text(web.says(wrong))

    linked = text(web.says(secret))
    assert "¡Listo!" in linked
    assert code in linked
    sure = text(web.says("quiero cancelar mi reserva"))
    assert code in sure
    assert "cancelada" in text(web.says("sí"))
    assert container.booking.get(code).status is Status.CANCELLED
