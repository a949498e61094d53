"""The gateway on both backends: store first, answer once, deliver with retries,
statuses forward only, one guest per phone number."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError

from saveit.bootstrap import Container
from saveit.domain.channel_ports import ChannelAccount, SendContext, SendFailed, SendResult
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.messages import (
    ChannelName,
    DeliveryStatus,
    InboundMessage,
    ListOption,
    OutboundMessage,
    StatusUpdate,
    WebhookBatch,
)
from saveit.messaging.delivery import Delivery
from saveit.messaging.gateway import Gateway, Receipt, Reply, Turn
from saveit.messaging.intake import Intake
from saveit.messaging.workers import ChannelWorkers
from saveit.store import conversations as convs
from saveit.store import first_contact
from saveit.store import messages as messages_store
from saveit.store import restaurants as restaurant_store
from saveit.store.answered import Answered
from saveit.store.database import create_db_engine
from saveit.store.outbox import event_row
from saveit.store.schema import channel_messages, conversations, early_statuses, guests, outbox
from tests.support import FakeClock, assign_account

WA_NUMBER_ID = "104200000000001"
SMS_NUMBER = "+34910000001"


@dataclass
class ScriptedSender:
    """A provider stand-in at the port: records sends and fails as scripted."""

    channel: ChannelName
    failures: list[SendFailed] = field(default_factory=list)
    sent: list[tuple[str, OutboundMessage, SendContext]] = field(default_factory=list)

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((to, message, context))
        return SendResult(f"{self.channel}-{len(self.sent)}-{context.message_id}")


class Echo:
    """Answers every message, offering two choices, and remembers what it saw."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []

    def respond(self, turn: Turn) -> Reply:
        self.turns.append(turn)
        return Reply(
            [
                OutboundMessage(
                    text=f"echo: {turn.text}",
                    options=(ListOption("t2100", "21:00"), ListOption("t2130", "21:30")),
                )
            ],
            state={"seen": turn.conversation.state.get("seen", 0) + 1},
        )


@pytest.fixture
def senders() -> dict[str, ScriptedSender]:
    return {name: ScriptedSender(name) for name in ("whatsapp", "sms", "instagram", "webchat")}


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def gateway(
    container: Container,
    demo: str,
    clock: FakeClock,
    senders: dict[str, ScriptedSender],
    echo: Echo,
) -> Gateway:
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    assign_account(container, demo, "sms", SMS_NUMBER, {}, clock())
    assign_account(container, demo, "instagram", "17841400000000001", {"access_token": "t"})
    return Gateway(
        container.engine,
        senders=senders,
        responder=echo,
        clock=clock,
        guest_per_minute=5,
        send_attempts=3,
        send_backoff_s=2.0,
    )


def wa(
    mid: str, text: str, sender: str = "+34600111222", at: datetime | None = None
) -> InboundMessage:
    return InboundMessage(
        channel="whatsapp",
        provider_message_id=mid,
        sender=sender,
        recipient=WA_NUMBER_ID,
        text=text,
        sent_at=at or datetime(2026, 6, 1, 9, 0).astimezone(),
        sender_name="Lucía",
    )


def sms(mid: str, text: str, sender: str = "+34600111222") -> InboundMessage:
    return InboundMessage(
        channel="sms",
        provider_message_id=mid,
        sender=sender,
        recipient=SMS_NUMBER,
        text=text,
        sent_at=datetime(2026, 6, 1, 9, 0).astimezone(),
    )


def drain(gateway: Gateway) -> None:
    while gateway.answer_inbound() or gateway.deliver_due():
        pass


def count(container: Container, table: object, *where: object) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_a_webhook_retried_five_times_at_once_is_stored_and_answered_once(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    barrier = threading.Barrier(5)
    receipts = []

    def deliver() -> None:
        barrier.wait()
        receipts.append(gateway.receive(WebhookBatch(messages=[wa("wamid.A1", "hola")])))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r.stored) for r in receipts) == [0, 0, 0, 0, 1]
    assert sum(r.duplicates for r in receipts) == 4
    drain(gateway)
    assert [to for to, _, _ in senders["whatsapp"].sent] == ["+34600111222"]
    assert count(container, channel_messages, channel_messages.c.direction == "in") == 1


def test_messages_for_an_unknown_number_are_not_stored(
    container: Container, gateway: Gateway
) -> None:
    stray = InboundMessage(
        channel="whatsapp",
        provider_message_id="wamid.X",
        sender="+34600999999",
        recipient="999",
        text="hola",
        sent_at=datetime(2026, 6, 1).astimezone(),
    )
    receipt = gateway.receive(WebhookBatch(messages=[stray]))
    assert receipt.unrouted == 1
    assert not receipt.stored
    assert count(container, channel_messages) == 0


def test_whatsapp_and_sms_from_one_number_are_one_guest_and_one_conversation(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender], echo: Echo
) -> None:
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    gateway.receive(WebhookBatch(messages=[sms("SM1", "sigo por sms")]))
    drain(gateway)
    assert count(container, guests) == 1
    assert count(container, conversations) == 1
    assert echo.turns[0].conversation.id == echo.turns[1].conversation.id
    assert echo.turns[1].conversation.state == {"seen": 1}  # the state carried over
    assert len(senders["sms"].sent) == 1  # the answer goes back where the guest wrote


def test_typing_a_number_picks_an_offered_choice_on_a_channel_without_buttons(
    gateway: Gateway, echo: Echo
) -> None:
    gateway.receive(WebhookBatch(messages=[sms("SM1", "mesa para 2")]))
    drain(gateway)
    gateway.receive(WebhookBatch(messages=[sms("SM2", "2")]))
    drain(gateway)
    assert echo.turns[1].choice is not None
    assert echo.turns[1].choice.id == "t2130"


def test_statuses_only_move_forward_whatever_order_they_arrive_in(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender], clock: FakeClock
) -> None:
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    with container.engine.connect() as conn:
        provider_id = conn.execute(
            select(channel_messages.c.provider_message_id).where(
                channel_messages.c.direction == "out"
            )
        ).scalar_one()

    def status(s: DeliveryStatus) -> StatusUpdate:
        return StatusUpdate("whatsapp", provider_id, s, clock())

    for s in (DeliveryStatus.READ, DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
        gateway.receive(WebhookBatch(statuses=[status(s)]))
    with container.engine.connect() as conn:
        assert (
            conn.execute(
                select(channel_messages.c.status).where(channel_messages.c.direction == "out")
            ).scalar_one()
            == "read"
        )


def test_a_closed_window_failure_is_recorded_and_announced(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    with container.engine.connect() as conn:
        provider_id = conn.execute(
            select(channel_messages.c.provider_message_id).where(
                channel_messages.c.direction == "out"
            )
        ).scalar_one()
    failed = StatusUpdate(
        "whatsapp", provider_id, DeliveryStatus.FAILED, clock(), "131047", "Re-engagement message"
    )
    gateway.receive(WebhookBatch(statuses=[failed]))
    late = StatusUpdate("whatsapp", provider_id, DeliveryStatus.DELIVERED, clock())
    gateway.receive(WebhookBatch(statuses=[late]))
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
        types = [t for (t,) in conn.execute(select(outbox.c.type))]
    assert (row.status, row.error_code) == ("failed", "131047")
    assert "message.failed" in types


def test_sends_retry_with_backoff_on_5xx_and_fail_visibly_after_the_last_try(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender], clock: FakeClock
) -> None:
    senders["whatsapp"].failures = [
        SendFailed("503 from Graph", retryable=True),
        SendFailed("timeout", retryable=True),
        SendFailed("503 again", retryable=True),
    ]
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    gateway.answer_inbound()
    assert gateway.deliver_due() == 1  # first try fails: retried in 2 s
    assert gateway.deliver_due() == 0  # not due yet
    clock.advance(seconds=2)
    assert gateway.deliver_due() == 1  # second try fails: retried in 4 s
    clock.advance(seconds=3)
    assert gateway.deliver_due() == 0
    clock.advance(seconds=1)
    assert gateway.deliver_due() == 1  # third and last try
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
    assert (row.status, row.attempts, row.error_code) == ("failed", 3, "GAVE_UP")
    assert senders["whatsapp"].sent == []


def test_a_4xx_refusal_is_not_retried(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    senders["whatsapp"].failures = [SendFailed("invalid recipient", code="131026", retryable=False)]
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
    assert (row.status, row.attempts, row.error_code) == ("failed", 1, "131026")


def test_the_24_hour_window_is_told_to_the_sender(
    gateway: Gateway, senders: dict[str, ScriptedSender], clock: FakeClock, container: Container
) -> None:
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    assert senders["whatsapp"].sent[0][2].window_open
    clock.advance(hours=25)
    with container.engine.connect() as conn:
        conversation_id = conn.execute(select(conversations.c.id)).scalar_one()
    gateway.send_to_conversation(
        conversation_id, OutboundMessage(text="¿Vienes?"), author="staff:ana"
    )
    drain(gateway)
    assert not senders["whatsapp"].sent[1][2].window_open


def test_a_handed_off_conversation_gets_no_bot_replies(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    with container.engine.begin() as conn:
        conn.execute(conversations.update().values(handoff=True))
    gateway.receive(WebhookBatch(messages=[wa("wamid.2", "quiero hablar con alguien")]))
    drain(gateway)
    assert len(senders["whatsapp"].sent) == 1


def test_a_flooding_guest_stops_getting_answers_but_is_still_stored(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    limiter_backed = Gateway(
        container.engine,
        senders=senders,
        responder=gateway.responder,
        clock=gateway.clock,
        limiter=container.limiter,
        guest_per_minute=3,
    )
    batch = WebhookBatch(messages=[wa(f"wamid.{n}", f"msg {n}") for n in range(6)])
    limiter_backed.receive(batch)
    drain(limiter_backed)
    assert count(container, channel_messages, channel_messages.c.direction == "in") == 6
    assert len(senders["whatsapp"].sent) == 3


def test_a_staff_reply_goes_out_on_the_channel_the_guest_last_used(
    container: Container, gateway: Gateway, senders: dict[str, ScriptedSender]
) -> None:
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    gateway.receive(WebhookBatch(messages=[sms("SM1", "por sms mejor")]))
    drain(gateway)
    with container.engine.connect() as conn:
        conversation_id = conn.execute(select(conversations.c.id)).scalar_one()
    queued = gateway.send_to_conversation(
        conversation_id, OutboundMessage(text="Hecho"), author="staff:ana"
    )
    drain(gateway)
    assert queued.channel == "sms"
    assert senders["sms"].sent[-1][1].text == "Hecho"


def test_a_worker_that_died_holding_a_message_is_taken_over_after_its_lease(
    container: Container, gateway: Gateway, clock: FakeClock, senders: dict[str, ScriptedSender]
) -> None:
    from saveit.store import messages as store

    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    with container.engine.begin() as conn:  # a worker claims it, then dies
        assert (
            len(store.claim_inbound(conn, now=clock(), lease=timedelta(seconds=60), limit=5)) == 1
        )
    assert gateway.answer_inbound() == 0
    clock.advance(seconds=61)
    assert gateway.answer_inbound() == 1
    drain(gateway)
    assert len(senders["whatsapp"].sent) == 1


@pytest.fixture
def another_process(container: Container, clock: FakeClock) -> tuple[Gateway, ScriptedSender]:
    sender = ScriptedSender("whatsapp")
    other = Gateway(container.engine, senders={"whatsapp": sender}, responder=Echo(), clock=clock)
    return other, sender


def answer_hola(gateway: Gateway, wamid: str) -> None:
    """A guest's "hola" stored and answered; the reply is handed over, not yet sent."""
    gateway.receive(WebhookBatch(messages=[wa(wamid, "hola")]))
    assert gateway.answer_inbound() == 1


def test_a_reply_is_sent_by_the_process_that_answered_and_claimed_by_no_other(
    gateway: Gateway,
    senders: dict[str, ScriptedSender],
    another_process: tuple[Gateway, ScriptedSender],
) -> None:
    """The bot's reply is inserted leased to the answering process and handed to its
    delivery in memory: no claim, no read-back, no other worker woken for it."""
    other, others_sender = another_process
    answer_hola(gateway, "wamid.H1")

    assert other.deliver_due() == 0
    assert gateway.deliver_due() == 1
    [(to, reply, context)] = senders["whatsapp"].sent
    assert (to, reply.text) == ("+34600111222", "echo: hola")
    assert context.window_open  # the guest just wrote: the 24-hour window is open
    assert others_sender.sent == []
    assert gateway.deliver_due() == 0


def test_a_reply_whose_process_died_before_sending_it_is_sent_once_after_its_lease(
    gateway: Gateway,
    clock: FakeClock,
    senders: dict[str, ScriptedSender],
    another_process: tuple[Gateway, ScriptedSender],
) -> None:
    other, others_sender = another_process
    answer_hola(gateway, "wamid.H2")  # ... and the process dies with the reply in memory

    assert other.deliver_due() == 0
    clock.advance(seconds=61)
    assert other.deliver_due() == 1
    assert [m.text for _, m, _ in others_sender.sent] == ["echo: hola"]
    assert senders["whatsapp"].sent == []


def test_a_process_stopping_in_order_gives_its_unsent_replies_back_at_once(
    gateway: Gateway,
    senders: dict[str, ScriptedSender],
    another_process: tuple[Gateway, ScriptedSender],
) -> None:
    """A deploy must not hold the replies in flight for a lease's minute."""
    other, others_sender = another_process
    answer_hola(gateway, "wamid.H3")
    gateway.delivery.handoff.release()  # what ChannelWorkers.join does on the way out

    assert other.deliver_due() == 1
    assert [m.text for _, m, _ in others_sender.sent] == ["echo: hola"]
    assert gateway.deliver_due() == 0  # given back, not also sent here
    assert senders["whatsapp"].sent == []


def test_booking_guest_with_the_same_phone_is_the_whatsapp_guest(
    container: Container, gateway: Gateway, demo: str, clock: FakeClock
) -> None:
    """A web booking's guest and a later WhatsApp message from that number meet."""
    restaurant = container.booking.restaurant(demo)
    start = datetime(2026, 6, 2, 21, 0, tzinfo=restaurant.tz)
    container.booking.create(
        CreateReservation(
            restaurant=demo,
            start=start,
            party_size=2,
            guest=GuestDetails(name="Lucía", phone="600 111 222"),
        ),
        Actor("guest", "web"),
    )
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    assert count(container, guests) == 1


class ProcessDied(BaseException):
    """What a SIGKILL mid-send looks like from the worker's side: nothing after it runs."""


@dataclass
class DyingSender(ScriptedSender):
    """Reaches the provider (the send is recorded), then the process dies."""

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        self.sent.append((to, message, context))
        raise ProcessDied


@pytest.mark.parametrize(("channel", "resent"), [("whatsapp", False), ("webchat", True)])
def test_a_send_cut_off_by_a_crash_is_never_repeated_blindly(
    container: Container,
    gateway: Gateway,
    clock: FakeClock,
    senders: dict[str, ScriptedSender],
    channel: str,
    resent: bool,
) -> None:
    """The provider got the message and the worker died before recording it. Meta
    and Twilio take no idempotency key, so the next worker fails it visibly
    (``DELIVERY_UNCERTAIN``) instead of sending it twice; the web chat, which shows
    each message id once, is sent again."""
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        identity = convs.resolve(conn, rid, channel, "+34600111222", name="Ana", now=clock())
        conversation, _ = convs.open_conversation(conn, rid, identity.guest_id, clock())
    dying = DyingSender(channel)
    gateway.delivery.senders[channel] = dying
    gateway.send_to_conversation(
        conversation.id, OutboundMessage(text="Tu mesa te espera"), author="staff", channel=channel
    )
    with pytest.raises(ProcessDied):
        gateway.deliver_due()
    assert len(dying.sent) == 1
    gateway.delivery.senders[channel] = senders[channel]
    assert gateway.deliver_due() == 0  # the dead worker's lease still holds it
    clock.advance(seconds=61)
    assert gateway.deliver_due() == 1
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
        types = [t for (t,) in conn.execute(select(outbox.c.type))]
    if resent:
        assert (row.status, len(senders[channel].sent)) == ("sent", 1)
    else:
        assert (row.status, row.error_code) == ("failed", "DELIVERY_UNCERTAIN")
        assert senders[channel].sent == []  # not a second time
        assert "message.failed" in types  # staff see it


def _staff_message(container: Container, gateway: Gateway, clock: FakeClock) -> str:
    """Queue a staff message to a WhatsApp guest; the provider id the scripted
    sender will answer with."""
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        identity = convs.resolve(conn, rid, "whatsapp", "+34600111222", name="Ana", now=clock())
        conversation, _ = convs.open_conversation(conn, rid, identity.guest_id, clock())
    queued = gateway.send_to_conversation(
        conversation.id, OutboundMessage(text="Tu mesa te espera"), author="staff"
    )
    return f"whatsapp-1-{queued.public_id}"


def test_statuses_that_beat_our_record_of_the_send_are_applied_when_it_is_recorded(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    provider_id = _staff_message(container, gateway, clock)
    early = [
        StatusUpdate("whatsapp", provider_id, DeliveryStatus.READ, clock()),
        StatusUpdate("whatsapp", provider_id, DeliveryStatus.DELIVERED, clock()),
    ]
    gateway.receive(WebhookBatch(statuses=early))  # Meta was quicker than our commit
    assert gateway.deliver_due() == 1
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
        left = conn.execute(select(func.count()).select_from(early_statuses)).scalar_one()
    assert (row.provider_message_id, row.status) == (provider_id, "read")
    assert left == 0


def test_an_early_failure_is_applied_and_announced(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    provider_id = _staff_message(container, gateway, clock)
    failed = StatusUpdate(
        "whatsapp", provider_id, DeliveryStatus.FAILED, clock(), "131026", "undeliverable"
    )
    gateway.receive(WebhookBatch(statuses=[failed]))
    gateway.deliver_due()
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages).where(channel_messages.c.direction == "out")
        ).one()
        types = [t for (t,) in conn.execute(select(outbox.c.type))]
    assert (row.status, row.error_code) == ("failed", "131026")
    assert "message.failed" in types


def test_statuses_no_send_ever_claims_are_forgotten_after_a_day(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    stray = StatusUpdate("whatsapp", "wamid.NOT-OURS", DeliveryStatus.DELIVERED, clock())
    gateway.receive(WebhookBatch(statuses=[stray]))
    gateway.receive(WebhookBatch(statuses=[stray]))  # retried: kept once
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(early_statuses)).scalar_one() == 1
    gateway.deliver_due()
    clock.advance(days=1, minutes=11)
    gateway.deliver_due()
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(early_statuses)).scalar_one() == 0


# --- group commit and wake-ups --------------------------------------------------------------


def test_webhooks_arriving_together_share_one_commit_and_each_hears_its_own_receipt(
    container: Container, gateway: Gateway
) -> None:
    groups: list[int] = []

    def receive_many(batches: Sequence[WebhookBatch]) -> list[Receipt | Exception]:
        groups.append(len(batches))
        return gateway.receive_many(batches)

    async def deliver_all() -> list[Receipt]:
        intake = Intake(receive_many)
        hooks = [WebhookBatch(messages=[wa(f"wamid.G{i}", f"hola {i}")]) for i in range(40)]
        hooks.append(WebhookBatch(messages=[wa("wamid.G7", "hola 7")]))  # a retry, in flight
        return await asyncio.gather(*(intake.receive(hook) for hook in hooks))

    receipts = asyncio.run(deliver_all())
    assert [len(r.stored) for r in receipts] == [1] * 40 + [0]
    assert receipts[-1].duplicates == 1
    assert len(groups) < 40  # one commit per group of webhooks, not one per webhook
    assert sum(groups) == 41
    assert count(container, channel_messages, channel_messages.c.direction == "in") == 40


def test_a_webhook_that_cannot_be_stored_fails_alone_not_its_whole_group(
    container: Container, gateway: Gateway
) -> None:
    # What a parser bug would hand over: a message that cannot be written down.
    broken = dataclasses.replace(wa("wamid.BAD", "hola"), sent_at=None)  # type: ignore[arg-type]
    results = gateway.receive_many(
        [
            WebhookBatch(messages=[wa("wamid.OK1", "hola")]),
            WebhookBatch(messages=[broken]),
            WebhookBatch(messages=[wa("wamid.OK2", "hola")]),
        ]
    )
    assert isinstance(results[1], Exception)
    assert [len(r.stored) for r in (results[0], results[2]) if isinstance(r, Receipt)] == [1, 1]
    assert count(container, channel_messages, channel_messages.c.direction == "in") == 2


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_worker_in_another_process_is_woken_by_the_commit_not_by_its_poll(
    container: Container,
    gateway: Gateway,
    db_url: str,
    clock: FakeClock,
    senders: dict[str, ScriptedSender],
) -> None:
    """The API stores and acknowledges; the worker, on its own connections and polling
    only every 30 s here, answers within moments because the commit notifies it."""
    worker_echo = Echo()
    engine = create_db_engine(db_url)
    worker = Gateway(engine, senders=senders, responder=worker_echo, clock=clock)
    stop = threading.Event()
    loops = ChannelWorkers(worker, poll_s=30)
    loops.start(stop)
    try:
        time.sleep(1.0)  # the loops found nothing and wait; the listener is listening
        gateway.receive(WebhookBatch(messages=[wa("wamid.W1", "hola")]))
        deadline = time.monotonic() + 5
        while not senders["whatsapp"].sent and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [turn.text for turn in worker_echo.turns] == ["hola"]
        assert [to for to, _, _ in senders["whatsapp"].sent] == ["+34600111222"]
        # A staff reply queued by the API is sent by the worker the same way.
        conversation = worker_echo.turns[0].conversation.id
        gateway.delivery.send_to_conversation(
            conversation, OutboundMessage(text="Os esperamos"), author="staff:ana"
        )
        deadline = time.monotonic() + 5
        while len(senders["whatsapp"].sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert senders["whatsapp"].sent[-1][1].text == "Os esperamos"
    finally:
        stop.set()
        loops.join()
        engine.dispose()


def test_when_the_database_is_away_every_webhook_waiting_on_the_commit_hears_it() -> None:
    calls: list[int] = []

    def receive_many(batches: Sequence[WebhookBatch]) -> list[Receipt | Exception]:
        calls.append(len(batches))
        raise OperationalError("INSERT …", {}, ConnectionRefusedError("database away"))

    async def deliver_all() -> list[object]:
        intake = Intake(receive_many)
        hooks = [WebhookBatch(messages=[wa(f"wamid.D{i}", "hola")]) for i in range(10)]
        return await asyncio.gather(*(intake.receive(h) for h in hooks), return_exceptions=True)

    answers = asyncio.run(deliver_all())
    assert all(isinstance(answer, OperationalError) for answer in answers)
    assert sum(calls) == 10  # one attempt each, within the group: no retry per webhook


def test_an_unreachable_database_fails_a_group_once_instead_of_webhook_by_webhook(
    senders: dict[str, ScriptedSender], echo: Echo, clock: FakeClock
) -> None:
    """Storing each webhook of the group alone is for one bad webhook; with the
    database away it would cost the providers one connection timeout each."""
    engine = create_db_engine("postgresql://postgres@127.0.0.1:9/nowhere", connect_timeout=1)
    gateway = Gateway(engine, senders=senders, responder=echo, clock=clock)
    hooks = [WebhookBatch(messages=[wa(f"wamid.U{i}", "hola")]) for i in range(5)]
    try:
        with pytest.raises(OperationalError):
            gateway.receive_many(hooks)
    finally:
        engine.dispose()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
def test_the_workers_answering_guests_yield_the_cpu_and_nothing_else_does(
    gateway: Gateway,
) -> None:
    def nice_of(tid: int) -> int:
        with open(f"/proc/self/task/{tid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[16])  # field 19: nice

    before = nice_of(threading.get_native_id())
    stop = threading.Event()
    loops = ChannelWorkers(gateway, poll_s=0.05, nice=7)
    loops.start(stop)
    try:
        time.sleep(0.3)
        answering = [
            t for t in threading.enumerate() if t.name in ("saveit-inbox", "saveit-delivery")
        ]
        assert len(answering) == 2
        assert [nice_of(t.native_id or 0) for t in answering] == [before + 7, before + 7]
        assert nice_of(threading.get_native_id()) == before
    finally:
        stop.set()
        loops.join()


@dataclass
class SlowSender:
    """A provider stand-in at the port whose every call takes a network round trip's
    time; it records how many calls were in flight at once, overall and per guest."""

    channel: ChannelName
    sent: list[tuple[str, str]] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_at_once: int = 0
    most_for_one_guest: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        with self.lock:
            self.in_flight[to] = self.in_flight.get(to, 0) + 1
            self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
            self.most_for_one_guest = max(self.most_for_one_guest, self.in_flight[to])
        time.sleep(0.05)
        with self.lock:
            self.in_flight[to] -= 1
            self.sent.append((to, message.text or ""))
        return SendResult(f"wamid.out-{context.message_id}")


def test_a_slow_provider_sends_to_several_guests_at_once_and_to_each_in_order(
    container: Container, demo: str, clock: FakeClock, echo: Echo
) -> None:
    """Fails before the fix: one send at a time, so ``most_at_once`` was 1 (a worker
    capped at a few sends a second by the provider's round trip)."""
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    slow = SlowSender("whatsapp")
    delivery = Delivery(container.engine, senders={"whatsapp": slow}, clock=clock, concurrency=4)
    gateway = Gateway(container.engine, senders={}, responder=echo, clock=clock, delivery=delivery)
    guests = [f"+3460011120{i}" for i in range(6)]
    for round_ in (1, 2, 3):
        batch = [wa(f"wamid.{g}.{round_}", f"{g} #{round_}", sender=g) for g in guests]
        gateway.receive(WebhookBatch(messages=batch))
        while gateway.answer_inbound():
            pass
    while gateway.deliver_due(limit=50):
        pass
    assert len(slow.sent) == 18
    assert slow.most_at_once > 1
    assert slow.most_for_one_guest == 1
    for guest in guests:
        mine = [text for to, text in slow.sent if to == guest]
        assert mine == [f"echo: {guest} #{n}" for n in (1, 2, 3)]


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_returning_senders_turn_starts_with_one_statement_of_its_own(
    container: Container, gateway: Gateway, clock: FakeClock, echo: Echo
) -> None:
    """Who wrote, their conversation and the message's place in it: one round trip,
    with no transaction around it, and the same outcome as the first turn's. The
    claim before it, the answer after it, the mark that the reply's send started and
    the send's record after the provider answered are one statement of their own
    each: neither the turn nor the send runs a transaction."""
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement, bool(conn.connection.driver_connection.autocommit)))

    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    clock.advance(minutes=5)
    gateway.receive(WebhookBatch(messages=[wa("wamid.2", "otra vez")]))
    event.listen(container.engine, "before_cursor_execute", record)
    try:
        assert gateway.answer_inbound() == 1
        answering = len(seen)
        assert gateway.deliver_due() == 1
    finally:
        event.remove(container.engine, "before_cursor_execute", record)

    starts = [(sql, on_its_own) for sql, on_its_own in seen if "channel_identities" in sql]
    assert len(starts) == 1, starts
    assert starts[0][0].startswith("WITH wrote AS")
    assert starts[0][1], "the turn's start ran inside a transaction"
    assert not [sql for sql, _ in seen if sql.startswith("SELECT conversations")]
    claims = [on_its_own for sql, on_its_own in seen if "WHERE channel_messages.id IN" in sql]
    assert claims == [True], "the claim ran inside a transaction"
    answers = [on_its_own for sql, on_its_own in seen if sql.startswith("WITH saved AS")]
    assert answers == [True], "the answer was not written as one statement of its own"
    in_transaction = [sql for sql, on_its_own in seen[:answering] if not on_its_own]
    assert in_transaction == [], "a returning sender's turn ran a transaction"
    started = [on_its_own for sql, on_its_own in seen if "SET send_started_at" in sql]
    assert started == [True], "the reply's send was marked started inside a transaction"
    recorded = [on_its_own for sql, on_its_own in seen if sql.startswith("WITH sent AS")]
    assert recorded == [True], "the send was not recorded as one statement of its own"
    assert [sql for sql, on_its_own in seen if not on_its_own] == [], "a transaction ran"
    with container.engine.connect() as conn:
        sent = conn.execute(
            select(channel_messages.c.public_id, channel_messages.c.status).where(
                channel_messages.c.direction == "out"
            )
        ).all()
        announced = conn.execute(
            select(outbox.c.payload).where(outbox.c.type == "message.sent")
        ).scalars()
        ids = sorted(payload["message"]["id"] for payload in announced)
    assert [status for _, status in sent] == ["sent", "sent"]
    assert ids == sorted(public_id for public_id, _ in sent)

    first, second = echo.turns
    assert second.conversation.id == first.conversation.id
    assert second.conversation.state == {"seen": 1}
    assert not second.first_contact
    assert second.identity.last_inbound_at == clock()
    with container.engine.connect() as conn:
        row = conn.execute(
            select(channel_messages.c.identity_id, channel_messages.c.conversation_id).where(
                channel_messages.c.provider_message_id == "wamid.2"
            )
        ).one()
    assert tuple(row) == (first.identity.id, first.conversation.id)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_an_answer_whose_state_moved_on_meanwhile_is_given_again_on_the_new_state(
    container: Container, gateway: Gateway, echo: Echo, senders: dict[str, ScriptedSender]
) -> None:
    """The one-statement answer writes nothing when the conversation changed after
    the turn read it: the turn reads it again and answers on what it found."""
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    gateway.receive(WebhookBatch(messages=[wa("wamid.2", "otra vez")]))
    respond = echo.respond
    raced: list[int] = []

    def respond_while_another_writes(turn: Turn) -> Reply:
        if not raced:  # once: another turn, or staff, moves the conversation on
            raced.append(turn.conversation.id)
            with container.engine.begin() as conn:
                conn.execute(
                    update(conversations).values(
                        state={"seen": 10}, version=conversations.c.version + 1
                    )
                )
        return respond(turn)

    echo.respond = respond_while_another_writes  # type: ignore[method-assign]
    drain(gateway)
    with container.engine.connect() as conn:
        state = conn.execute(select(conversations.c.state)).scalar_one()
        received = conn.execute(
            select(func.count()).where(outbox.c.type == "message.received")
        ).scalar_one()
    assert state == {"seen": 11}, "an answer overwrote a state written after it was read"
    assert [message.text for _, message, _ in senders["whatsapp"].sent][-1] == "echo: otra vez"
    assert len(senders["whatsapp"].sent) == 2
    assert received == 2


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_an_answer_to_a_message_another_worker_answered_queues_nothing(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    """As the transaction did: the state is kept, no second reply and no event."""
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    with container.engine.connect() as conn:
        answered_id = conn.execute(
            select(channel_messages.c.id).where(channel_messages.c.provider_message_id == "wamid.1")
        ).scalar_one()
        current = convs.conversation(conn, conn.execute(select(conversations.c.id)).scalar_one())
        identity = convs.identity(
            conn, conn.execute(select(channel_messages.c.identity_id).limit(1)).scalar_one()
        )
    assert current is not None
    assert identity is not None
    before = count(container, channel_messages), count(container, outbox)
    row = messages_store.outbound_row(
        restaurant_id=current.restaurant_id,
        channel="whatsapp",
        address=identity.external_id,
        identity_id=identity.id,
        conversation_id=current.id,
        message=OutboundMessage(text="late"),
        author="bot",
        now=clock(),
    )
    event = event_row(
        restaurant_id=current.restaurant_id, type_="message.received", payload={}, at=clock()
    )
    at_once = container.db.on_its_own()
    assert at_once is not None
    with at_once as uow:
        done = uow.answers.answered_at_once(
            current,
            state={"seen": 5},
            offered=[],
            language=None,
            now=clock(),
            message_id=answered_id,
            note=None,
            reply=row,
            event=event,
        )
    assert done == Answered(finished=False, reply=None)
    assert (count(container, channel_messages), count(container, outbox)) == before
    with container.engine.connect() as conn:
        assert conn.execute(select(conversations.c.state)).scalar_one() == {"seen": 5}


def _recorded(container: Container) -> tuple[list[tuple[str, bool]], Any]:
    """Every statement the engine runs, and whether it ran on its own (autocommit)."""
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement, bool(conn.connection.driver_connection.autocommit)))

    return seen, record


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_new_senders_turn_runs_no_transaction(
    container: Container, gateway: Gateway, echo: Echo
) -> None:
    """A guest's first message: the try as a returning sender finds nobody, and one
    more statement of its own makes their guest, identity and conversation and
    attaches the message, where a transaction of eleven round trips did."""
    seen, record = _recorded(container)
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    event.listen(container.engine, "before_cursor_execute", record)
    try:
        assert gateway.answer_inbound() == 1
    finally:
        event.remove(container.engine, "before_cursor_execute", record)

    assert [sql for sql, on_its_own in seen if not on_its_own] == [], "a transaction ran"
    starts = [sql for sql, _ in seen if "channel_identities" in sql]
    assert len(starts) == 2, starts
    assert starts[0].startswith("WITH wrote AS")
    assert starts[1].startswith("WITH guest AS")
    (turn,) = echo.turns
    assert turn.first_contact
    assert turn.identity.external_id == "+34600111222"
    assert turn.identity.last_inbound_at is not None
    assert turn.conversation.state == {}
    with container.engine.connect() as conn:
        guest = conn.execute(select(guests.c.id, guests.c.name, guests.c.phone)).one()
        row = conn.execute(
            select(channel_messages.c.identity_id, channel_messages.c.conversation_id).where(
                channel_messages.c.provider_message_id == "wamid.1"
            )
        ).one()
    assert tuple(guest) == (turn.identity.guest_id, "Lucía", "+34600111222")
    assert turn.conversation.guest_id == guest.id
    assert tuple(row) == (turn.identity.id, turn.conversation.id)


def test_a_guest_known_by_phone_joins_their_own_conversation_on_their_first_message(
    container: Container, gateway: Gateway, demo: str, clock: FakeClock, echo: Echo
) -> None:
    """Known from a booking with no name, and a confirmation that began their
    conversation: their first WhatsApp message is theirs, not a new guest's, and
    fills in the name WhatsApp gives."""
    restaurant = container.booking.restaurant(demo)
    with container.engine.begin() as conn:
        guest = conn.execute(
            guests.insert()
            .values(
                restaurant_id=restaurant.id,
                name="",
                phone="+34600111222",
                notes="",
                allergies=[],
                tags=[],
                visit_count=0,
                no_show_count=0,
                created_at=clock(),
                updated_at=clock(),
            )
            .returning(guests.c.id)
        ).scalar_one()
        began, _ = convs.open_conversation(conn, restaurant.id, guest, clock())
        conn.execute(
            update(conversations).where(conversations.c.id == began.id).values(state={"seen": 7})
        )
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    drain(gateway)
    (turn,) = echo.turns
    assert not turn.first_contact
    assert turn.conversation.id == began.id
    assert turn.conversation.state == {"seen": 7}
    assert turn.identity.guest_id == guest
    assert count(container, guests) == 1
    assert count(container, conversations) == 1
    with container.engine.connect() as conn:
        assert conn.execute(select(guests.c.name)).scalar_one() == "Lucía"


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_first_contact_that_cannot_be_placed_whole_writes_nothing(
    container: Container, gateway: Gateway, demo: str, clock: FakeClock
) -> None:
    """The sender's identity made a moment before by another worker, or a message
    that is not there to attach: no guest, identity or conversation is left behind,
    and the caller is told to take the transaction."""
    restaurant = container.booking.restaurant(demo)
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola")]))
    with container.engine.connect() as conn:
        message_id = conn.execute(select(channel_messages.c.id)).scalar_one()
    with container.engine.begin() as conn:
        convs.resolve(conn, restaurant.id, "sms", "+34600999999", name="Ana", now=clock())
    before = count(container, guests), count(container, conversations)
    lucia = GuestDetails(name="Lucía", phone="+34600111222")
    ana = GuestDetails(name="Ana", phone="+34600999999")
    for sender, details, message in (
        ("+34600999999", ana, message_id),  # the identity exists
        ("+34600111222", lucia, message_id + 1000),  # no such message
    ):
        at_once = container.db.on_its_own()
        assert at_once is not None
        with at_once as uow:
            placed = uow.first_contacts.met_at_once(
                restaurant.id, "sms", sender, details, message, clock()
            )
        assert placed is None
        assert (count(container, guests), count(container, conversations)) == before
    assert count(container, channel_messages, channel_messages.c.identity_id.is_not(None)) == 0


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_channels_first_messages_racing_for_one_number_make_one_guest_and_conversation(
    container: Container, gateway: Gateway, demo: str, clock: FakeClock, echo: Echo
) -> None:
    """WhatsApp's first message places the guest in a transaction still open while
    SMS's first message from the same number is placed: the second statement waits
    for the guest, cannot see the conversation begun meanwhile, writes nothing, and
    its turn finds both in the transactional path."""
    gateway.receive(WebhookBatch(messages=[wa("wamid.1", "hola"), sms("SM1", "y por sms")]))
    restaurant = container.booking.restaurant(demo)
    with container.engine.connect() as conn:
        ids = {
            channel: int(id_)
            for channel, id_ in conn.execute(
                select(channel_messages.c.channel, channel_messages.c.id)
            )
        }
    lucia = GuestDetails(name="Lucía", phone="+34600111222")
    outcome: list[object] = []

    def second() -> None:
        at_once = container.db.on_its_own()
        assert at_once is not None
        with at_once as uow:
            outcome.append(
                uow.first_contacts.met_at_once(
                    restaurant.id, "sms", "+34600111222", lucia, ids["sms"], clock()
                )
            )

    with container.engine.connect() as first:
        first.begin()
        placed = first_contact.met_at_once(
            first, restaurant.id, "whatsapp", "+34600111222", lucia, ids["whatsapp"], clock()
        )
        assert placed is not None
        racer = threading.Thread(target=second)
        racer.start()
        time.sleep(0.5)  # the racer waits on the guest's row
        assert racer.is_alive()
        first.commit()
    racer.join(timeout=10)
    assert outcome == [None]
    assert (count(container, guests), count(container, conversations)) == (1, 1)

    drain(gateway)
    assert {turn.conversation.id for turn in echo.turns} == {placed[1].id}
    assert count(container, guests) == 1
