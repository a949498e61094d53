"""Mail arriving at ``saveit smtp``, handed to the gateway.

Only addresses that belong to a restaurant are accepted at ``RCPT`` time, so
the server is no open relay and mail for nobody is refused before its body is
sent. Each accepted recipient gets the message as its own inbound message (a
guest writing to two restaurants at once reaches both).
"""

from __future__ import annotations

import logging

from saveit.channels.email_parse import is_automatic, parse_email
from saveit.channels.gateway import Gateway
from saveit.channels.model import WebhookBatch
from saveit.channels.ports import MalformedPayload

log = logging.getLogger(__name__)


class EmailIngress:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def accepts(self, address: str) -> bool:
        return self.gateway.route("email", address.strip().lower()) is not None

    def deliver(self, raw: bytes, recipients: list[str]) -> None:
        """Store the message (raising makes the SMTP server answer 451: try later).

        Mail no person wrote (auto-replies, bounces, lists) is accepted and
        dropped: answering an out-of-office with the bot would loop forever."""
        if is_automatic(raw):
            log.info("smtp: automatic message for %s dropped", ", ".join(recipients))
            return
        batch = WebhookBatch()
        for recipient in recipients:
            try:
                batch.messages.append(parse_email(raw, recipient.strip().lower()))
            except MalformedPayload as exc:  # acknowledged and dropped: retrying cannot help
                log.info("smtp: unreadable message for %s dropped: %s", recipient, exc)
        if batch.messages:
            self.gateway.receive(batch)
