"""Mail arriving at ``saveit smtp``, handed to the gateway.

Only addresses that belong to a restaurant are accepted at ``RCPT`` time, so
the server is no open relay and mail for nobody is refused before its body is
sent. A restaurant's address also receives at its reply subaddresses
(``reservas+r-<token>@…``, see :mod:`saveit.channels.email.proof`). Each
accepted restaurant gets the message as its own inbound message (a guest
writing to two restaurants at once reaches both), marked with the proof, if
any, that the sender controls its ``From`` address.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from typing import TYPE_CHECKING

from saveit.channels.email.parse import is_automatic, parse_email
from saveit.channels.email.proof import (
    DKIM,
    REPLY,
    DkimCheck,
    DnsFunc,
    ReplyAddresses,
    header_tokens,
    split_subaddress,
)
from saveit.domain.channel_ports import MalformedPayload
from saveit.domain.messages import InboundMessage, WebhookBatch
from saveit.messaging.gateway import Gateway

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

    from saveit.config import Settings

log = logging.getLogger(__name__)


class EmailIngress:
    def __init__(
        self,
        gateway: Gateway,
        *,
        replies: ReplyAddresses | None = None,
        dkim: DkimCheck | None = None,
    ) -> None:
        self.gateway = gateway
        self.replies = replies
        self.dkim = dkim

    def accepts(self, address: str) -> bool:
        return self._restaurant(address) is not None

    def _restaurant(self, address: str) -> int | None:
        address = address.strip().lower()
        account = self.gateway.route("email", address)
        if account is None:
            base, token = split_subaddress(address)
            account = self.gateway.route("email", base) if token is not None else None
        return None if account is None else account.restaurant_id

    def deliver(self, raw: bytes, recipients: list[str]) -> None:
        """Store the message (raising makes the SMTP server answer 451: try later).

        Mail no person wrote (auto-replies, bounces, lists) is accepted and
        dropped: answering an out-of-office with the bot would loop forever."""
        if is_automatic(raw):
            log.info("smtp: automatic message for %s dropped", ", ".join(recipients))
            return
        # One message per restaurant address, with the reply tokens it came by.
        tokens: dict[str, list[str]] = {}
        for recipient in recipients:
            address = recipient.strip().lower()
            base, token = split_subaddress(address)
            if self.gateway.route("email", address) is not None:
                base, token = address, None  # an address of its own, "+" and all
            tokens.setdefault(base, [])
            if token is not None:
                tokens[base].append(token)
        batch = WebhookBatch()
        for base, via in tokens.items():
            try:
                message = parse_email(raw, base)
            except MalformedPayload as exc:  # acknowledged and dropped: retrying cannot help
                log.info("smtp: unreadable message for %s dropped: %s", base, exc)
                continue
            proof = None
            restaurant_id = self._restaurant(base)
            if (
                self.replies is not None
                and restaurant_id is not None
                and self.replies.proves(
                    restaurant_id, message.sender, [*via, *header_tokens(raw, base)]
                )
            ):
                proof = REPLY
            elif self.dkim is not None and self.dkim.verifies(raw, message.sender, base):
                proof = DKIM
            batch.messages.append(_with_proof(message, proof))
        if batch.messages:
            self.gateway.receive(batch)


def _with_proof(message: InboundMessage, proof: str | None) -> InboundMessage:
    return dataclasses.replace(message, proof=proof) if proof else message


def serve(
    gateway: Gateway,
    settings: Settings,
    *,
    host: str,
    port: int,
    dnsfunc: DnsFunc | None = None,
) -> Controller:
    """``saveit smtp``'s server: the ingress with its proofs, and the limits of the
    settings (STARTTLS when a certificate is configured). ``dnsfunc`` replaces
    the DNS lookup of DKIM keys (tests)."""
    from saveit.channels.email.smtp_server import start_smtp_server

    ingress = EmailIngress(
        gateway,
        replies=ReplyAddresses(settings.secret_key.get_secret_value().encode()),
        dkim=DkimCheck(dnsfunc),
    )
    return start_smtp_server(
        host,
        port,
        accepts=ingress.accepts,
        deliver=ingress.deliver,
        tls_context=tls_context(settings),
        max_recipients=settings.smtp_inbound_max_recipients,
        max_connections_per_ip=settings.smtp_inbound_max_connections_per_ip,
    )


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server side of STARTTLS, from the configured certificate and key."""
    if settings.smtp_inbound_tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(
        str(settings.smtp_inbound_tls_cert),
        None if settings.smtp_inbound_tls_key is None else str(settings.smtp_inbound_tls_key),
    )
    return context
