"""Email end to end over real SMTP: a guest writes to the restaurant's address
(smtplib -> ``saveit smtp``'s server), the reply goes out through the relay (our
sender -> a capturing server) threaded under the guest's mail, and the guest's
answer — quoting ours — continues the same conversation with only its new text."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from saveit.bootstrap import Container
from saveit.store.schema import channel_messages, conversations
from tests.integration.channels.test_channels_email_smtp import CaptureHandler
from tests.integration.conftest import EMAIL_ADDRESS, EMAIL_HOST

HOST = EMAIL_HOST
ADDRESS = EMAIL_ADDRESS
GUEST = "ana@example.com"


def guest_mail(message_id: str, body: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Ana García <{GUEST}>"
    msg["To"] = ADDRESS
    msg["Subject"] = headers.pop("Subject", "Mesa para el sábado")
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def run_workers(container: Container) -> None:
    gateway = container.gateway
    assert gateway is not None
    while gateway.answer_inbound() or gateway.deliver_due():
        pass


def test_a_guest_email_is_answered_in_thread_and_the_reply_continues_the_conversation(
    mail: tuple[Container, int], relay: tuple[CaptureHandler, int]
) -> None:
    container, port = mail
    captured, _ = relay
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.send_message(guest_mail("<guest-1@example.com>", "¿Tenéis mesa el sábado?"))
    run_workers(container)
    [reply] = captured.messages
    answer = reply.message
    assert reply.rcpt_tos == [GUEST]
    assert answer["In-Reply-To"] == "<guest-1@example.com>"
    assert "guest-1@example.com" in answer["References"]
    assert answer.get_content_type() in {"multipart/alternative", "multipart/mixed"}
    ours = answer["Message-ID"]

    quoted = (
        "Somos 4, a las 21:00.\n\nEl lun, 1 jun 2026, Demo escribió:\n> ¡Gracias por escribir!\n"
    )
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.send_message(
            guest_mail(
                "<guest-2@example.com>",
                quoted,
                Subject="Re: Mesa para el sábado",
                In_Reply_To=ours,
                References=f"<guest-1@example.com> {ours}",
            )
        )
    run_workers(container)
    with container.engine.connect() as conn:
        texts = [
            t
            for (t,) in conn.execute(
                select(channel_messages.c.text)
                .where(channel_messages.c.direction == "in")
                .order_by(channel_messages.c.id)
            )
        ]
        threads = conn.execute(select(func.count()).select_from(conversations)).scalar_one()
    assert texts == ["¿Tenéis mesa el sábado?", "Somos 4, a las 21:00."]
    assert threads == 1


def test_mail_for_an_address_that_is_nobodys_is_refused(mail: tuple[Container, int]) -> None:
    _, port = mail
    with (
        smtplib.SMTP(HOST, port, timeout=10) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        client.sendmail(GUEST, ["nobody@demo.example"], b"Subject: hi\r\n\r\nhello\r\n")


def test_an_out_of_office_reply_is_accepted_and_never_answered(
    mail: tuple[Container, int], relay: tuple[CaptureHandler, int]
) -> None:
    container, port = mail
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.send_message(
            guest_mail(
                "<ooo-1@example.com>", "Estoy fuera hasta el lunes.", Auto_Submitted="auto-replied"
            )
        )
    run_workers(container)
    assert relay[0].messages == []
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(channel_messages)).scalar_one() == 0
