"""Every channel connector, once: the composition root builds the senders from
this list and the webhook routes are generated from it. Adding a provider is
one package under ``channels/`` and one line here (see the README, *Adding a
channel*). Order matters only for the order of the routes in ``/docs``."""

from __future__ import annotations

from collections.abc import Iterator

from saveit.channels import email, instagram, sms, webchat, whatsapp
from saveit.channels.connector import Connector, Webhook
from saveit.config import Settings
from saveit.domain.channel_ports import Sender

CONNECTORS: tuple[Connector, ...] = (
    webchat.CONNECTOR,
    whatsapp.CONNECTOR,
    instagram.CONNECTOR,
    sms.CONNECTOR,
    email.CONNECTOR,
)


def build_senders(settings: Settings) -> dict[str, Sender]:
    """The sender of every configured provider, by channel name. A channel whose
    provider is not configured has none, and its queued messages fail visibly as
    ``NOT_CONFIGURED`` instead of vanishing."""
    senders: dict[str, Sender] = {}
    for connector in CONNECTORS:
        sender = connector.sender(settings)
        if sender is not None:
            senders[connector.name] = sender
    return senders


def webhooks() -> Iterator[Webhook]:
    """Every provider webhook, in registry order."""
    for connector in CONNECTORS:
        yield from connector.webhooks
