"""Linking identities needs proof: a code sent over the channel that already
reaches the claimed phone or address. Until it is confirmed, a claim changes
nothing and reveals nothing."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from saveit.bootstrap import Container
from saveit.domain.channel_ports import ChannelAccount, SendContext, SendResult
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.messages import ChannelName, InboundMessage, OutboundMessage, WebhookBatch
from saveit.messaging.gateway import Gateway, Reply, Turn
from saveit.messaging.identity import CannotVerify, IdentityLinks, LinkCodeInvalid
from saveit.store import conversations as convs
from saveit.store import messages as store
from saveit.store.schema import channel_identities, conversations, guests, reservations
from tests.support import FakeClock, assign_account

WA_NUMBER_ID = "104200000000001"
IG_ACCOUNT = "17841400000000001"
PHONE = "+34600111222"


class Recorder:
    def __init__(self, channel: ChannelName) -> None:
        self.channel = channel
        self.sent: list[tuple[str, str]] = []

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        self.sent.append((to, message.text))
        return SendResult(context.message_id)


class Quiet:
    def respond(self, turn: Turn) -> Reply:
        return Reply()


@pytest.fixture
def senders() -> dict[str, Recorder]:
    return {name: Recorder(name) for name in ("whatsapp", "sms", "instagram", "email")}  # type: ignore[arg-type]


@pytest.fixture
def gateway(
    container: Container, demo: str, clock: FakeClock, senders: dict[str, Recorder]
) -> Gateway:
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    assign_account(container, demo, "instagram", IG_ACCOUNT, {"access_token": "t"}, clock())
    return Gateway(container.engine, senders=senders, responder=Quiet(), clock=clock)  # type: ignore[arg-type]


@pytest.fixture
def links(container: Container, gateway: Gateway, clock: FakeClock) -> IdentityLinks:
    return IdentityLinks(
        container.engine, wake=gateway.delivery.ready.set, secret=b"test", clock=clock
    )


def _write(gateway: Gateway, channel: ChannelName, mid: str, sender: str, recipient: str) -> None:
    message = InboundMessage(
        channel=channel,
        provider_message_id=mid,
        sender=sender,
        recipient=recipient,
        text="hola",
        sent_at=datetime(2026, 6, 1).astimezone(),
    )
    gateway.receive(WebhookBatch(messages=[message]))
    while gateway.answer_inbound():
        pass


def _identity(container: Container, channel: str) -> convs.Identity:
    with container.engine.connect() as conn:
        row_id = conn.execute(
            select(channel_identities.c.id).where(channel_identities.c.channel == channel)
        ).scalar_one()
        found = convs.identity(conn, row_id)
    assert found is not None
    return found


def _code(senders: dict[str, Recorder], gateway: Gateway, channel: str) -> str:
    while gateway.deliver_due():
        pass
    _to, text = senders[channel].sent[-1]
    match = re.search(r"\b(\d{6})\b", text)
    assert match is not None
    return match.group(1)


@pytest.fixture
def two_guests(container: Container, gateway: Gateway, demo: str) -> tuple[int, int]:
    """Lucía on WhatsApp with a booking, and an Instagram guest claiming to be her."""
    _write(gateway, "whatsapp", "wamid.1", PHONE, WA_NUMBER_ID)
    restaurant = container.booking.restaurant(demo)
    container.booking.create(
        CreateReservation(
            restaurant=demo,
            start=datetime(2026, 6, 2, 21, 0, tzinfo=restaurant.tz),
            party_size=2,
            guest=GuestDetails(name="Lucía", phone=PHONE),
        ),
        Actor("guest", "web"),
    )
    _write(gateway, "instagram", "mid.1", "IGSID-77", IG_ACCOUNT)
    return _identity(container, "whatsapp").guest_id, _identity(container, "instagram").guest_id


def _reservation_owners(container: Container) -> list[int]:
    with container.engine.connect() as conn:
        return [g for (g,) in conn.execute(select(reservations.c.guest_id))]


def test_a_claim_sends_a_code_to_the_known_channel_and_changes_nothing(
    container: Container,
    links: IdentityLinks,
    senders: dict[str, Recorder],
    gateway: Gateway,
    two_guests: tuple[int, int],
) -> None:
    lucia, stranger = two_guests
    links.request(_identity(container, "instagram").id, phone="600 111 222")
    _code(senders, gateway, "whatsapp")
    assert senders["whatsapp"].sent[-1][0] == PHONE  # the code went to Lucía's WhatsApp
    assert senders["instagram"].sent == []  # nothing told to the claimant
    assert _reservation_owners(container) == [lucia]
    assert _identity(container, "instagram").guest_id == stranger


def test_wrong_codes_are_limited_and_change_nothing(
    container: Container,
    links: IdentityLinks,
    senders: dict[str, Recorder],
    gateway: Gateway,
    two_guests: tuple[int, int],
) -> None:
    lucia, stranger = two_guests
    ig = _identity(container, "instagram").id
    links.request(ig, phone=PHONE)
    right = _code(senders, gateway, "whatsapp")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    lefts = []
    for _ in range(5):
        with pytest.raises(LinkCodeInvalid) as refused:
            links.confirm(ig, wrong)
        lefts.append(refused.value.data["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    with pytest.raises(LinkCodeInvalid):
        links.confirm(ig, right)  # used up: even the right code no longer works
    assert _identity(container, "instagram").guest_id == stranger
    assert _reservation_owners(container) == [lucia]


def test_an_expired_code_is_refused(
    container: Container,
    links: IdentityLinks,
    senders: dict[str, Recorder],
    gateway: Gateway,
    clock: FakeClock,
    two_guests: tuple[int, int],
) -> None:
    ig = _identity(container, "instagram").id
    links.request(ig, phone=PHONE)
    code = _code(senders, gateway, "whatsapp")
    clock.advance(minutes=11)
    with pytest.raises(LinkCodeInvalid):
        links.confirm(ig, code)


def test_the_right_code_merges_guests_reservations_and_conversations(
    container: Container,
    links: IdentityLinks,
    senders: dict[str, Recorder],
    gateway: Gateway,
    two_guests: tuple[int, int],
) -> None:
    lucia, _stranger = two_guests
    ig = _identity(container, "instagram").id
    links.request(ig, phone=PHONE)
    assert links.confirm(ig, _code(senders, gateway, "whatsapp")) == lucia
    assert _identity(container, "instagram").guest_id == lucia
    assert _reservation_owners(container) == [lucia]
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(guests)).scalar_one() == 1
        conversation_id = conn.execute(select(conversations.c.id)).scalar_one()
        history = store.history(conn, conversation_id)
    # One conversation, readable from both channels: both "hola"s are in it.
    assert sorted(m.channel for m in history if m.direction == "in") == ["instagram", "whatsapp"]
    # And the guest may now continue on Instagram in the same conversation.
    _write(gateway, "instagram", "mid.2", "IGSID-77", IG_ACCOUNT)
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(conversations)).scalar_one() == 1


def test_a_contact_nobody_has_is_proven_through_the_restaurants_own_account(
    container: Container,
    links: IdentityLinks,
    senders: dict[str, Recorder],
    gateway: Gateway,
    demo: str,
) -> None:
    _write(gateway, "instagram", "mid.1", "IGSID-77", IG_ACCOUNT)
    ig = _identity(container, "instagram")
    links.request(ig.id, phone="+34699000111")
    assert links.confirm(ig.id, _code(senders, gateway, "whatsapp")) == ig.guest_id
    with container.engine.connect() as conn:
        phone = conn.execute(select(guests.c.phone).where(guests.c.id == ig.guest_id)).scalar_one()
    assert phone == "+34699000111"


def test_a_claim_no_channel_can_verify_is_refused(
    container: Container, links: IdentityLinks, gateway: Gateway
) -> None:
    _write(gateway, "instagram", "mid.1", "IGSID-77", IG_ACCOUNT)
    with pytest.raises(CannotVerify):  # no email account at this restaurant
        links.request(_identity(container, "instagram").id, email="ana@example.com")
