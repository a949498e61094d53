"""Who writes an email: the ``From`` header alone never lets a sender see or change
a guest's bookings.

Everything goes over real SMTP on loopback: ``smtplib`` plays the sending
servers (the guest's own provider, or a stranger's server forging the guest's
address) and talks to ``saveit smtp``'s server as ``serve`` builds it; our
replies go out through the real sender to a capturing relay, where the test
reads them as the guest's mailbox would. DKIM keys are made here, and the DNS
lookup of the public key is answered by the test (``dnsfunc``).
"""

from __future__ import annotations

import base64
import itertools
import re
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container, build
from saveit.channels.email.inbound import serve
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from tests.integration.channels.test_channels_email_smtp import Captured, CaptureHandler
from tests.integration.conftest import EMAIL_ADDRESS, EMAIL_HOST
from tests.support import FakeClock, assign_account, demo_document

GUEST = "ana@example.com"
SELECTOR = b"mail"
_ids = itertools.count(1)


def _key() -> tuple[bytes, bytes]:
    """(private key PEM, the TXT record that publishes its public half)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


GUEST_KEY, GUEST_RECORD = _key()  # example.com's signing key, as its provider has it
FORGER_KEY, FORGER_RECORD = _key()  # the forger's own domain's key
DNS = {
    b"mail._domainkey.example.com.": GUEST_RECORD,
    b"mail._domainkey.forger.example.": FORGER_RECORD,
}


def dns_txt(name: bytes, timeout: int = 5) -> bytes | None:
    return DNS.get(name if name.endswith(b".") else name + b".")


class Mailbox:
    """One sender talking to ``saveit smtp``, and what arrives in ana's real mailbox."""

    def __init__(self, container: Container, port: int, relay: CaptureHandler) -> None:
        self.container = container
        self.port = port
        self.relay = relay

    def send(
        self,
        text: str,
        *,
        to: str = EMAIL_ADDRESS,
        sign_as: str | None = None,
        envelope_to: str | None = None,
        **headers: str,
    ) -> list[Captured]:
        """Send ``text`` "from" ana (signed for ``sign_as``'s domain, if given);
        return the mail that then reached ana's mailbox."""
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = f"Ana García <{GUEST}>"
        msg["To"] = to
        msg["Subject"] = headers.pop("Subject", "Reserva")
        msg["Date"] = "Mon, 01 Jun 2026 11:00:00 +0200"
        msg["Message-ID"] = f"<m{next(_ids)}@mail.test>"
        for name, value in headers.items():
            msg[name.replace("_", "-")] = value
        msg.set_content(text)
        raw = msg.as_bytes()
        if sign_as is not None:
            key = GUEST_KEY if sign_as == "example.com" else FORGER_KEY
            raw = (
                dkim.sign(
                    raw,
                    SELECTOR,
                    sign_as.encode(),
                    key,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                )
                + raw
            )
        before = len(self.relay.messages)
        with smtplib.SMTP(EMAIL_HOST, self.port, timeout=10) as client:
            client.sendmail(GUEST, [envelope_to or to], raw)
        gateway = self.container.gateway
        assert gateway is not None
        while gateway.answer_inbound() or gateway.deliver_due():
            pass
        return [m for m in self.relay.messages[before:] if m.rcpt_tos == [GUEST]]


def text_of(captured: Captured) -> str:
    body = captured.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.fixture
def ana(
    settings: Settings, clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> Iterator[tuple[Mailbox, str]]:
    """The demo restaurant at ``EMAIL_ADDRESS`` behind ``saveit smtp``'s server, and
    ana's confirmed booking (returned: her mailbox and the booking's code)."""
    configured = settings.model_copy(
        update={
            "smtp_relay_host": EMAIL_HOST,
            "smtp_relay_port": relay[1],
            "smtp_relay_starttls": False,
        }
    )
    container = build(configured, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    assign_account(container, "demo", "email", EMAIL_ADDRESS, {}, clock())
    made = container.booking.create(
        CreateReservation(
            restaurant="demo",
            start=datetime(2026, 6, 3, 19, 0, tzinfo=UTC),  # 21:00 in Madrid
            party_size=2,
            guest=GuestDetails(name="Ana García", email=GUEST, language="en"),
            source="web",
            idempotency_key="ana-booking",
        ),
        Actor("guest", "web", "web"),
    )
    assert container.gateway is not None
    server = serve(container.gateway, configured, host=EMAIL_HOST, port=0, dnsfunc=dns_txt)
    yield Mailbox(container, server.port, relay[0]), made.reservation.code
    server.stop()
    container.close()


def status(mailbox: Mailbox, code: str) -> str:
    return str(mailbox.container.booking.get(code).status.value)


def test_two_forged_emails_from_another_server_cannot_cancel_a_booking(
    ana: tuple[Mailbox, str],
) -> None:
    """Someone else's server sends "cancel my reservation" and then "yes" with ana's
    address in From: the booking stays, and ana's mailbox gets an offer to prove
    the address, never her bookings.

    Fails before the fix: the forger's "yes" cancelled ana's booking."""
    mailbox, code = ana
    arrived = mailbox.send("Hi, please cancel my reservation")
    assert arrived
    assert all(code not in text_of(m) for m in arrived)
    mailbox.send("yes")
    assert status(mailbox, code) == "confirmed"
    mailbox.send("What are my reservations?")
    # What reached ana's mailbox: offers to prove the address and a code, no booking.
    seen = "\n".join(text_of(m) for m in mailbox.relay.messages)
    assert code not in seen
    assert "reply to this email from your mailbox" in seen
    assert "Your verification code is" in seen


def test_a_signature_of_another_domain_proves_nothing(ana: tuple[Mailbox, str]) -> None:
    """A forger signs with a DKIM key of its own domain: valid, but not ana's domain.

    Fails before the fix: the forged, foreign-signed "yes" cancelled ana's booking."""
    mailbox, code = ana
    mailbox.send("Please cancel my reservation", sign_as="forger.example")
    mailbox.send("yes", sign_as="forger.example")
    assert status(mailbox, code) == "confirmed"


def test_a_signed_mail_ana_sent_elsewhere_replayed_to_us_proves_nothing(
    ana: tuple[Mailbox, str],
) -> None:
    """Ana once wrote "Cancel my reservation" (signed by her provider) to a friend;
    the friend resends those exact bytes to the restaurant and adds a forged "yes".
    The signature is genuine, but it signs a To that is not the restaurant.

    Fails before the fix: the replayed mail and the forged "yes" cancelled the booking."""
    mailbox, code = ana
    mailbox.send(
        "Cancel my reservation",
        to="friend@elsewhere.example",
        envelope_to=EMAIL_ADDRESS,
        sign_as="example.com",
    )
    mailbox.send("yes")
    assert status(mailbox, code) == "confirmed"


def test_ana_replying_to_our_reply_address_can_cancel(ana: tuple[Mailbox, str]) -> None:
    """Our mail carries a Reply-To of ana's own; her mail client answers there, and
    that proves she reads the mailbox: she cancels.

    Fails before the fix: our mail had no Reply-To, so there was nothing to answer."""
    mailbox, code = ana
    [offer] = [
        m for m in mailbox.send("Cancel my reservation") if "code" not in m.message["Subject"]
    ]
    reply_to = offer.message["Reply-To"].addresses[0].addr_spec
    assert re.fullmatch(r"reservas\+r-[a-z2-7]{16}@demo\.example", reply_to)
    [question] = mailbox.send("Cancel my reservation", to=reply_to, Subject="Re: Reserva")
    assert f"cancel your booking {code}" in text_of(question)
    [done] = mailbox.send("yes", to=reply_to, Subject="Re: Reserva")
    assert "is cancelled" in text_of(done)
    assert status(mailbox, code) == "cancelled"


def test_a_reply_address_only_proves_the_address_it_was_made_for(
    ana: tuple[Mailbox, str],
) -> None:
    """A token made for another guest (or guessed) does not open ana's bookings; the
    mail is still accepted (a guest answering a forwarded mail is not bounced).

    Fails before the fix: reply subaddresses were refused at RCPT (550 No such recipient)."""
    mailbox, code = ana
    foreign = "reservas+r-abcdefghijklmnop@demo.example"
    mailbox.send("Cancel my reservation", to=foreign)
    mailbox.send("yes", to=foreign)
    assert status(mailbox, code) == "confirmed"


def test_ana_with_a_dkim_signed_mail_from_her_provider_can_cancel(
    ana: tuple[Mailbox, str],
) -> None:
    """Ana's provider signs her mail for example.com: a fresh (not a reply) message
    is enough.

    Fails before the fix: the signature was never checked, and the unsigned forged
    pair sent first here cancelled the booking before ana wrote."""
    mailbox, code = ana
    mailbox.send("Cancel my reservation")
    mailbox.send("yes")
    assert status(mailbox, code) == "confirmed"
    [question] = mailbox.send("Cancel my reservation", sign_as="example.com")
    assert f"cancel your booking {code}" in text_of(question)
    [done] = mailbox.send("yes", sign_as="example.com")
    assert "is cancelled" in text_of(done)
    assert status(mailbox, code) == "cancelled"


def test_ana_typing_the_emailed_code_can_cancel(ana: tuple[Mailbox, str], clock: FakeClock) -> None:
    """No reply address, no signature: ana asks, gets a code by email, types it
    back, and then sees and cancels her booking.

    Fails before the fix: the first unproven "my reservations" listed the booking
    instead of sending a code."""
    mailbox, code = ana
    arrived = mailbox.send("What are my reservations?")
    assert all(code not in text_of(m) for m in arrived)
    [sent] = [m for m in arrived if "Your verification code is" in text_of(m)]
    found = re.search(r"Your verification code is (\d{6})", text_of(sent))
    assert found is not None
    listing = "\n".join(text_of(m) for m in mailbox.send(found.group(1)))
    assert code in listing
    clock.advance(minutes=5)
    mailbox.send("Cancel my reservation")
    [done] = mailbox.send("yes")
    assert "is cancelled" in text_of(done)
    assert status(mailbox, code) == "cancelled"


def test_a_proof_expires_after_a_day(ana: tuple[Mailbox, str], clock: FakeClock) -> None:
    """Proven today, a forged message the next week gets nowhere.

    Fails before the fix: the forged pair cancelled the booking."""
    mailbox, code = ana
    mailbox.send("hello", sign_as="example.com")  # ana proves the address
    clock.advance(days=2)
    mailbox.send("Cancel my reservation")
    mailbox.send("yes")
    assert status(mailbox, code) == "confirmed"


def test_an_unproven_sender_can_still_ask_and_book(ana: tuple[Mailbox, str]) -> None:
    """Guards that the fix does not lock out new guests: without any proof a sender
    books a new table (this passed before the fix as well)."""
    mailbox, code = ana
    [question] = mailbox.send("Table for 2 on Friday at 21:00, please")
    assert "Shall I book a table for 2" in text_of(question)
    [done] = mailbox.send("yes")
    assert "booked" in text_of(done).lower() or "confirmed" in text_of(done).lower()
    assert status(mailbox, code) == "confirmed"
