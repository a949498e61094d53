"""WhatsApp Business Cloud API: :mod:`.inbound` reads the signed webhooks (the
signature and handshake are Meta's, :mod:`saveit.channels.meta`), :mod:`.sender`
sends through the Graph API."""

from __future__ import annotations

from saveit.channels.connector import Connector
from saveit.channels.meta.webhook import meta_webhook
from saveit.channels.whatsapp.inbound import parse
from saveit.config import Settings
from saveit.domain.channel_ports import Sender


def _sender(settings: Settings) -> Sender:
    from saveit.channels.whatsapp.sender import WhatsAppSender

    return WhatsAppSender(
        settings.graph_api_base,
        settings.graph_api_version,
        timeout_s=settings.channel_http_timeout_s,
    )


CONNECTOR = Connector("whatsapp", sender=_sender, webhooks=(meta_webhook("whatsapp", parse),))
