"""Email over real SMTP on loopback: our inbound server, and our sender against a
capturing server. Nothing of ours is mocked; the far side is either the
standard library's ``smtplib`` client or a tiny aiosmtpd handler defined here.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from saveit.channels.email.ics import reservation_event
from saveit.channels.email.parse import parse_email
from saveit.channels.email.sender import EmailSender
from saveit.channels.email.smtp_server import start_smtp_server
from saveit.domain.channel_ports import ChannelAccount, SendContext, SendFailed
from saveit.domain.messages import Attachment, Button, Image, ListOption, OutboundMessage

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "channels" / "email"
RESTAURANT = "reservas@casalola.example"
GUEST = "marta.ruiz@example.com"
ACCOUNT = ChannelAccount(restaurant_id=1, channel="email", address=RESTAURANT)
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- (a) our inbound server, driven by smtplib -----------------------------------------


@dataclass
class Inbox:
    """What ``deliver`` was handed, and how it should behave next."""

    delivered: list[tuple[bytes, list[str]]] = field(default_factory=list)
    fail_next: int = 0
    gate: threading.Event | None = None

    def deliver(self, raw: bytes, recipients: list[str]) -> None:
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database is away")
        self.delivered.append((raw, recipients))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def server(inbox: Inbox) -> Iterator[Controller]:
    known = {RESTAURANT, "eventos@casalola.example"}
    controller = start_smtp_server(
        HOST, 0, accepts=known.__contains__, deliver=inbox.deliver, data_size_limit=64 * 1024
    )
    yield controller
    controller.stop()


def client(controller: Controller) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, controller.port, timeout=10)


def test_delivered_bytes_are_exactly_what_was_sent(server: Controller, inbox: Inbox) -> None:
    raw = (FIXTURES / "gmail_reply_es.eml").read_bytes()
    with client(server) as smtp:
        refused = smtp.sendmail(GUEST, [RESTAURANT], raw)

    assert refused == {}
    assert inbox.delivered == [(raw, [RESTAURANT])]
    msg = parse_email(*inbox.delivered[0][:1], inbox.delivered[0][1][0])
    assert msg.text.startswith("Hola, ¿podríamos cambiarla a las 21:30?")
    assert msg.recipient == RESTAURANT


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.eml")))
def test_every_fixture_arrives_byte_exact(server: Controller, inbox: Inbox, name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    with client(server) as smtp:
        smtp.sendmail(GUEST, [RESTAURANT], raw)
    assert inbox.delivered == [(raw, [RESTAURANT])]


def test_recipients_are_lowercased_and_handed_over_together(
    server: Controller, inbox: Inbox
) -> None:
    raw = (FIXTURES / "latin1_qp.eml").read_bytes()
    with client(server) as smtp:
        smtp.sendmail(GUEST, ["Reservas@CasaLola.example", "eventos@casalola.example"], raw)
    assert inbox.delivered == [(raw, [RESTAURANT, "eventos@casalola.example"])]


def test_unknown_recipient_is_refused_with_550(server: Controller, inbox: Inbox) -> None:
    raw = (FIXTURES / "latin1_qp.eml").read_bytes()
    with client(server) as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail(GUEST, ["nadie@casalola.example"], raw)

    code, text = refused.value.recipients["nadie@casalola.example"]
    assert code == 550
    assert text.startswith(b"5.1.1")
    assert inbox.delivered == []


def test_only_known_recipients_get_the_message(server: Controller, inbox: Inbox) -> None:
    raw = (FIXTURES / "latin1_qp.eml").read_bytes()
    with client(server) as smtp:
        refused = smtp.sendmail(GUEST, ["nadie@casalola.example", RESTAURANT], raw)
    assert refused["nadie@casalola.example"][0] == 550
    assert inbox.delivered == [(raw, [RESTAURANT])]


def test_failed_delivery_answers_451_and_the_retry_is_stored(
    server: Controller, inbox: Inbox
) -> None:
    raw = (FIXTURES / "outlook_reply_en.eml").read_bytes()
    inbox.fail_next = 1
    with client(server) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            smtp.sendmail(GUEST, [RESTAURANT], raw)
        assert failed.value.smtp_code == 451
        assert inbox.delivered == []
        smtp.rset()
        smtp.sendmail(GUEST, [RESTAURANT], raw)  # what the sending server does later
    assert inbox.delivered == [(raw, [RESTAURANT])]


def test_250_comes_only_after_deliver_returned(server: Controller, inbox: Inbox) -> None:
    raw = (FIXTURES / "latin1_qp.eml").read_bytes()
    inbox.gate = threading.Event()
    done = threading.Event()

    def send() -> None:
        with client(server) as smtp:
            smtp.sendmail(GUEST, [RESTAURANT], raw)
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    assert not done.wait(0.5)  # deliver is blocked: the client still waits for its answer
    inbox.gate.set()
    sender.join(10)
    assert done.is_set()
    assert inbox.delivered == [(raw, [RESTAURANT])]


def test_recipient_check_failure_answers_451() -> None:
    def accepts(address: str) -> bool:
        raise RuntimeError("database is away")

    controller = start_smtp_server(HOST, 0, accepts=accepts, deliver=lambda raw, rcpts: None)
    try:
        with client(controller) as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(GUEST, [RESTAURANT], b"Subject: x\r\n\r\nhola\r\n")
        assert refused.value.recipients[RESTAURANT][0] == 451
    finally:
        controller.stop()


def test_oversized_message_is_refused_with_552(server: Controller, inbox: Inbox) -> None:
    big = b"Subject: menu\r\n\r\n" + b"x" * 70 + b"\r\n"
    big *= 1200  # ~100 kB over a 64 kB limit
    with client(server) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            smtp.sendmail(GUEST, [RESTAURANT], big)  # SIZE= announced in MAIL FROM
        assert declared.value.smtp_code == 552
        smtp.rset()
        smtp.mail(GUEST)  # no SIZE: refused after the data
        smtp.rcpt(RESTAURANT)
        code, _ = smtp.data(big)
        assert code == 552
    assert inbox.delivered == []


# --- (b) our sender, against a capturing server ----------------------------------------


@dataclass
class Captured:
    mail_from: str | None
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class CaptureHandler:
    """A relay that keeps what it gets, or answers with a fixed refusal."""

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.messages: list[Captured] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.messages.append(
            Captured(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"


StartRelay = Callable[..., tuple[CaptureHandler, EmailSender]]


@pytest.fixture
def relay() -> Iterator[StartRelay]:
    started: list[Controller] = []

    def start(**replies: str) -> tuple[CaptureHandler, EmailSender]:
        handler = CaptureHandler(**replies)
        controller = Controller(
            handler, hostname=HOST, port=free_port(), server_hostname="relay.test"
        )
        controller.start()
        started.append(controller)
        sender = EmailSender(HOST, controller.port, starttls=False, timeout_s=5)
        return handler, sender

    yield start
    for controller in started:
        controller.stop()


START = datetime(2026, 12, 5, 20, 30, tzinfo=UTC)
CONTEXT = SendContext(
    message_id="0193a4f2-7c1d-7b3e-9f00-1234567890ab",
    language="es",
    restaurant_name="Casa Lola",
    in_reply_to="<b81d9f4e-0002@casalola.example>",
    references=("7f3c1e2a-0001@casalola.example", "b81d9f4e-0002@casalola.example"),
    now=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
)


def confirmation() -> OutboundMessage:
    ics = reservation_event(
        uid="reservation-1842@casalola.example",
        start=START,
        end=START + timedelta(hours=2),
        summary="Cena en Casa Lola",
        location="Calle Mayor 1, Logroño",
        description="Mesa para 5",
        organizer_email=RESTAURANT,
    )
    return OutboundMessage(
        text="Hola Marta,\n\nHecho: mesa para 5 el sábado 5 a las 21:30.\n¿Necesitáis algo más?",
        buttons=(Button("ok", "Todo bien"), Button("change", "Cambiar hora")),
        attachments=(Attachment("reserva.ics", "text/calendar", ics),),
    )


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    return {part.get_content_type(): part for part in message.walk()}


def text_of(part: EmailMessage) -> str:
    """A text part's content with the wire's CRLF line endings as ``\\n``."""
    return str(part.get_content()).replace("\r\n", "\n")


def test_sent_confirmation_is_threaded_multipart_with_a_calendar_event(relay: StartRelay) -> None:
    handler, sender = relay()

    result = sender.send(ACCOUNT, GUEST, confirmation(), CONTEXT)

    [captured] = handler.messages
    assert captured.mail_from == RESTAURANT
    assert captured.rcpt_tos == [GUEST]
    message = captured.message
    message_id = "0193a4f2-7c1d-7b3e-9f00-1234567890ab@casalola.example"
    assert message["Message-ID"] == f"<{message_id}>"
    assert result.provider_message_id == message_id
    assert message["In-Reply-To"] == "<b81d9f4e-0002@casalola.example>"
    assert message["References"] == (
        "<7f3c1e2a-0001@casalola.example> <b81d9f4e-0002@casalola.example>"
    )
    assert message["From"] == f"Casa Lola <{RESTAURANT}>"
    assert message["To"] == GUEST
    assert message["Subject"] == "Hola Marta,"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Date"].datetime == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    assert message.get_content_type() == "multipart/mixed"
    found = parts(message)
    assert "multipart/alternative" in found
    alternative = [p.get_content_type() for p in found["multipart/alternative"].iter_parts()]
    assert alternative == ["text/plain", "text/html"]
    plain = text_of(found["text/plain"])
    html = text_of(found["text/html"])
    assert "Hecho: mesa para 5 el sábado 5 a las 21:30." in plain
    assert "1. Todo bien\n2. Cambiar hora" in plain  # buttons become numbered lines
    assert "<ol>\n<li>Todo bien</li>\n<li>Cambiar hora</li>\n</ol>" in html
    assert "Hecho: mesa para 5 el sábado 5 a las 21:30.<br>" in html
    assert "&iquest;" not in html
    assert "¿Necesitáis algo más?" in html

    calendar_part = found["text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_filename() == "reserva.ics"
    calendar = Calendar.from_ical(calendar_part.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == "reservation-1842@casalola.example"
    assert event.decoded("DTSTART") == START


def test_a_guest_reply_to_our_email_threads_back_to_it(relay: StartRelay, inbox: Inbox) -> None:
    handler, sender = relay()
    result = sender.send(ACCOUNT, GUEST, confirmation(), CONTEXT)
    ours = handler.messages[0].message

    reply = EmailMessage()
    reply["From"] = f"Marta Ruiz <{GUEST}>"
    reply["To"] = RESTAURANT
    reply["Subject"] = "Re: " + str(ours["Subject"])
    reply["Message-ID"] = "<reply-1@mail.example.com>"
    reply["In-Reply-To"] = str(ours["Message-ID"])
    reply["References"] = f"{ours['References']} {ours['Message-ID']}"
    reply.set_content(
        "Perfecto, gracias.\n\nEl mar, 1 dic 2026 a las 10:00, Casa Lola (<reservas@casalola."
        "example>) escribió:\n> Hola Marta,\n> Hecho: mesa para 5\n"
    )
    inbound = start_smtp_server(HOST, 0, accepts=lambda a: a == RESTAURANT, deliver=inbox.deliver)
    try:
        with client(inbound) as smtp:
            smtp.send_message(reply)
    finally:
        inbound.stop()

    [(raw, recipients)] = inbox.delivered
    msg = parse_email(raw, recipients[0])
    assert msg.reply_to == result.provider_message_id
    assert msg.references[-1] == result.provider_message_id
    assert msg.references[0] == "7f3c1e2a-0001@casalola.example"
    assert msg.text == "Perfecto, gracias."


def test_inline_image_bytes_are_a_related_part_referenced_by_cid(relay: StartRelay) -> None:
    handler, sender = relay()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    message = OutboundMessage(
        text="Tu código QR para la entrada:",
        image=Image(data=png, content_type="image/png", caption="QR de la reserva"),
        options=(ListOption("t1", "20:00", "terraza"), ListOption("t2", "21:00")),
        options_label="Ver horas",
        subject="Tu reserva en Casa Lola",
    )

    sender.send(ACCOUNT, GUEST, message, SendContext(message_id="42", restaurant_name="Casa Lola"))

    email = handler.messages[0].message
    assert email["Subject"] == "Tu reserva en Casa Lola"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["In-Reply-To"] is None
    assert email["References"] is None
    assert email.get_content_type() == "multipart/alternative"
    found = parts(email)
    related = found["multipart/related"]
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png"]
    image = found["image/png"]
    assert image.get_content() == png
    cid = str(image["Content-ID"]).strip("<>")
    html = text_of(found["text/html"])
    assert f'src="cid:{cid}"' in html
    assert "<li>20:00 <small>terraza</small></li>" in html
    plain = text_of(found["text/plain"])
    assert "QR de la reserva" in plain
    assert "Ver horas\n1. 20:00 — terraza\n2. 21:00" in plain


def test_image_by_url_is_an_img_tag_and_a_link_in_plain_text(relay: StartRelay) -> None:
    handler, sender = relay()
    url = "https://cdn.example.com/casalola/terraza.jpg"
    message = OutboundMessage(text="Así es la terraza.", image=Image(url=url, caption="Terraza"))

    sender.send(ACCOUNT, GUEST, message, SendContext(message_id="43", restaurant_name="Casa Lola"))

    found = parts(handler.messages[0].message)
    assert "multipart/related" not in found
    assert f'<img src="{url}" alt="Terraza"' in found["text/html"].get_content()
    assert url in found["text/plain"].get_content()


def test_html_escapes_the_text(relay: StartRelay) -> None:
    handler, sender = relay()
    message = OutboundMessage(text="<script>alert(1)</script> & más")
    sender.send(ACCOUNT, GUEST, message, SendContext(message_id="44", restaurant_name="Casa Lola"))
    html = parts(handler.messages[0].message)["text/html"].get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; más" in html


def test_long_first_line_is_cut_for_the_default_subject(relay: StartRelay) -> None:
    handler, sender = relay()
    text = (
        "Gracias por tu reserva en Casa Lola, te esperamos el sábado 5 de diciembre a las 21:30 h"
    )
    sender.send(ACCOUNT, GUEST, OutboundMessage(text=text), SendContext(message_id="45"))
    subject = str(handler.messages[0].message["Subject"])
    assert subject.endswith("…")
    assert len(subject) <= 70
    assert text.startswith(subject[:-1])


def test_unknown_recipient_550_is_not_retryable(relay: StartRelay) -> None:
    _, sender = relay(rcpt_reply="550 5.1.1 <marta.ruiz@example.com>: user unknown")
    with pytest.raises(SendFailed) as failed:
        sender.send(ACCOUNT, GUEST, OutboundMessage(text="Hola"), CONTEXT)
    assert failed.value.retryable is False
    assert failed.value.code == "550"


def test_temporary_refusal_451_is_retryable(relay: StartRelay) -> None:
    _, sender = relay(data_reply="451 4.3.0 Try again later")
    with pytest.raises(SendFailed) as failed:
        sender.send(ACCOUNT, GUEST, OutboundMessage(text="Hola"), CONTEXT)
    assert failed.value.retryable is True
    assert failed.value.code == "451"


def test_nobody_listening_is_retryable() -> None:
    sender = EmailSender(HOST, free_port(), starttls=False, timeout_s=2)
    with pytest.raises(SendFailed) as failed:
        sender.send(ACCOUNT, GUEST, OutboundMessage(text="Hola"), CONTEXT)
    assert failed.value.retryable is True


def test_a_relay_that_never_answers_times_out_retryably() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind((HOST, 0))
        silent.listen(1)
        sender = EmailSender(HOST, silent.getsockname()[1], starttls=False, timeout_s=0.5)
        with pytest.raises(SendFailed) as failed:
            sender.send(ACCOUNT, GUEST, OutboundMessage(text="Hola"), CONTEXT)
    assert failed.value.retryable is True


@pytest.mark.parametrize(
    "to",
    [
        "marta@example.com\r\nBcc: all@example.com",
        "not an address",
        "marta@",
        "@example.com",
        "a@example.com, b@example.com",
    ],
)
def test_unbuildable_message_is_not_retryable(relay: StartRelay, to: str) -> None:
    handler, sender = relay()
    with pytest.raises(SendFailed) as failed:
        sender.send(ACCOUNT, to, OutboundMessage(text="x"), CONTEXT)
    assert failed.value.retryable is False
    assert handler.messages == []


def test_the_password_is_never_shown(relay: StartRelay, caplog: pytest.LogCaptureFixture) -> None:
    _, plain_sender = relay()  # this relay offers no AUTH: a configuration error
    sender = EmailSender(
        HOST, plain_sender.port, username="casalola", password="s3cr3t-pw", starttls=False
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SendFailed) as failed:
        sender.send(ACCOUNT, GUEST, OutboundMessage(text="Hola"), CONTEXT)
    assert failed.value.retryable is False
    assert "s3cr3t-pw" not in repr(sender)
    assert "s3cr3t-pw" not in caplog.text
    assert "s3cr3t-pw" not in str(failed.value)


def test_send_works_when_called_inside_an_event_loop(relay: StartRelay) -> None:
    handler, sender = relay()

    async def inside_a_loop() -> str:
        return sender.send(
            ACCOUNT, GUEST, OutboundMessage(text="Hola"), CONTEXT
        ).provider_message_id

    assert asyncio.run(inside_a_loop()).endswith("@casalola.example")
    assert len(handler.messages) == 1
