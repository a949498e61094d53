"""The waitlist in the chat, through the real gateway (provider senders stood in at
the port): joining from a full time, seeing and leaving entries, and answering an
offer with a typed number on SMS. Clock: Monday 2026-06-01 11:00 in Madrid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from saveit.bootstrap import Container
from saveit.conversation.bot import BotResponder
from saveit.domain.commands import Actor
from saveit.domain.events import Event
from saveit.domain.model import Status
from saveit.messaging.gateway import Gateway
from saveit.waitlist.runner import WaitlistHandler
from tests.integration.conversation.test_conversation_dialogue import (
    Guest,
    fill,
    make_gateway,
    text,
)
from tests.integration.messaging.test_channels_gateway import (
    SMS_NUMBER,
    WA_NUMBER_ID,
    ScriptedSender,
)
from tests.support import FakeClock, assign_account

AT_21 = datetime(2026, 6, 2, 19, 0, tzinfo=UTC)  # 21:00 in Madrid


@pytest.fixture
def senders() -> dict[str, ScriptedSender]:
    return {name: ScriptedSender(name) for name in ("whatsapp", "sms", "webchat")}


@pytest.fixture
def waiting_gateway(
    container: Container, demo: str, clock: FakeClock, senders: dict[str, ScriptedSender]
) -> Gateway:
    """The dialogue tests' gateway, with the waitlist on (as the composition root does)."""
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    assign_account(container, demo, "sms", SMS_NUMBER, {}, clock())
    gateway = make_gateway(container, clock, senders)
    assert isinstance(gateway.responder, BotResponder)
    gateway.responder.waitlist = container.waitlist
    return gateway


def join(guest: Guest) -> None:
    refused = guest.says("mesa para 2 mañana a las 21:00")
    assert "¿Te aviso si se libera algo" in text(refused)
    notify_me = [c.id for c in refused[-1].choices].index(
        next(c.id for c in refused[-1].choices if c.id.startswith("wl:j:"))
    )
    assert "Apuntado" in text(guest.taps(refused[-1], notify_me))


def test_a_guest_joins_sees_the_entry_in_my_reservations_and_leaves(
    container: Container, waiting_gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    fill(container, AT_21, 2)
    lucia = Guest(waiting_gateway, senders)
    join(lucia)
    assert container.waitlist is not None
    [entry] = container.waitlist.list_day("demo", AT_21.date())
    assert entry.status == "waiting"
    assert entry.channel == "whatsapp"

    mine = lucia.says("mis reservas")
    assert "En lista de espera" in text(mine)
    [listed] = [m for m in mine if "En lista de espera" in m.text]
    left = lucia.taps(listed, 0)

    assert "Te he quitado de la lista" in text(left)
    assert container.waitlist.get(entry.code).status == "left"


def test_an_sms_guest_takes_the_offer_by_typing_1(
    container: Container,
    waiting_gateway: Gateway,
    senders: dict[str, ScriptedSender],
    clock: FakeClock,
) -> None:
    fill(container, AT_21, 2)
    john = Guest(waiting_gateway, senders, channel="sms", phone="+34600333444", name=None)
    join(john)
    assert container.waitlist is not None
    assert container.notifier is not None
    taken = container.booking.list_for_day("demo", AT_21.date())[0]
    container.booking.cancel(taken.code, Actor("staff", "host", "api"))
    [entry] = container.waitlist.offer(taken.restaurant_id, AT_21.date())
    hold = container.booking.get(str(entry.hold_code))
    # The worker's handler hears the hold and queues the offer (twice: still once).
    event = Event(
        event_id="held-1",
        type="reservation.held",
        restaurant_id=hold.restaurant_id,
        payload={"reservation": hold.snapshot()},
        created_at=clock(),
        outbox_id=1,
    )
    handler = WaitlistHandler(container.waitlist, container.notifier)
    handler.handle(event)
    handler.handle(event)
    sms = senders["sms"]
    before = len(sms.sent)
    while waiting_gateway.deliver_due():
        pass
    offers = [m for _, m, _ in sms.sent[before:]]
    assert len(offers) == 1
    assert [b.title for b in offers[0].buttons] == ["Sí, la quiero", "No, gracias"]

    done = john.says("1")

    assert "Reserva confirmada" in text(done)
    booked = container.booking.get(hold.code)
    assert booked.status is Status.CONFIRMED
    assert container.waitlist.get(entry.code).status == "booked"
