"""``saveit smtp``'s server limits, over real SMTP on loopback: STARTTLS with a
configured certificate, recipients per message, connections per client address."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import trustme
from sqlalchemy import func, select

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container, build
from saveit.channels.email.inbound import serve
from saveit.config import Settings
from saveit.store.schema import channel_messages
from tests.integration.conftest import EMAIL_ADDRESS, EMAIL_HOST
from tests.support import FakeClock, assign_account, demo_document

GUEST = "ana@example.com"
MESSAGE = (
    f"From: {GUEST}\r\nTo: {EMAIL_ADDRESS}\r\nSubject: Mesa\r\n"
    "Message-ID: <hardening-1@example.com>\r\n\r\nMesa para 2 el viernes\r\n"
).encode()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ingress(
    settings: Settings, clock: FakeClock, ca: trustme.CA, tmp_path: Path
) -> Iterator[tuple[Container, int]]:
    """``saveit smtp``'s server for the demo restaurant, with a certificate for
    127.0.0.1 issued by the test's own CA, and low limits."""
    cert = ca.issue_cert(EMAIL_HOST, "localhost")
    cert_file, key_file = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    configured = settings.model_copy(
        update={
            "smtp_inbound_tls_cert": cert_file,
            "smtp_inbound_tls_key": key_file,
            "smtp_inbound_max_recipients": 10,
            "smtp_inbound_max_connections_per_ip": 3,
        }
    )
    container = build(configured, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    assign_account(container, "demo", "email", EMAIL_ADDRESS, {}, clock())
    assert container.gateway is not None
    server = serve(container.gateway, configured, host=EMAIL_HOST, port=0)
    yield container, server.port
    server.stop()
    container.close()


def connect_when_free(port: int) -> smtplib.SMTP:
    """A connection, once the server has seen a closed one go (that takes a moment)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return smtplib.SMTP(EMAIL_HOST, port, timeout=10)
        except smtplib.SMTPConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stored(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(channel_messages)).scalar_one())


def test_the_server_offers_starttls_with_the_configured_certificate(
    ingress: tuple[Container, int], ca: trustme.CA
) -> None:
    """A sending server upgrades to TLS, checks our certificate, and delivers.

    Fails before the fix: the server offered no STARTTLS (mail crossed in plain text)."""
    container, port = ingress
    context = ssl.create_default_context()
    ca.configure_trust(context)
    for n in range(4):  # more sessions than one address may hold at once, one after another
        with connect_when_free(port) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo()
            client.sendmail(GUEST, [EMAIL_ADDRESS], MESSAGE.replace(b"-1@", f"-{n}@".encode()))
    assert stored(container) == 4


def test_a_message_takes_at_most_ten_recipients(ingress: tuple[Container, int]) -> None:
    """The eleventh RCPT of one message gets 452 (a sending server sends the rest
    in another transaction), so one message cannot fan out without bound.

    Fails before the fix: all eleven RCPT commands were accepted."""
    _, port = ingress
    recipients = [EMAIL_ADDRESS] * 11
    with smtplib.SMTP(EMAIL_HOST, port, timeout=10) as client:
        client.ehlo()
        client.mail(GUEST)
        answers = [client.rcpt(r)[0] for r in recipients]
    assert answers == [250] * 10 + [452]


def test_a_client_address_gets_at_most_three_open_connections(
    ingress: tuple[Container, int],
) -> None:
    """The fourth simultaneous connection from one address is greeted with 421 and
    closed; once one closes, a new one is welcome again.

    Fails before the fix: any number of connections from one address were served."""
    container, port = ingress
    with ExitStack() as open_ones:
        first = open_ones.enter_context(smtplib.SMTP(EMAIL_HOST, port, timeout=10))
        for _ in range(2):
            open_ones.enter_context(smtplib.SMTP(EMAIL_HOST, port, timeout=10))
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP(EMAIL_HOST, port, timeout=10)
        assert refused.value.smtp_code == 421
        first.quit()
        with connect_when_free(port) as again:
            again.sendmail(GUEST, [EMAIL_ADDRESS], MESSAGE)
    assert stored(container) == 1
