"""SMS through Twilio: :mod:`.inbound` checks and reads the signed form webhooks
(messages and status callbacks), :mod:`.sender` sends through the REST API.
One Twilio account, the deployment's, sends for every restaurant."""

from __future__ import annotations

from saveit.channels.connector import Connector
from saveit.channels.sms.webhook import MESSAGES, STATUSES
from saveit.config import Settings
from saveit.domain.channel_ports import Sender


def _sender(settings: Settings) -> Sender | None:
    if not settings.twilio_account_sid or settings.twilio_auth_token is None:
        return None
    from saveit.channels.sms.sender import TwilioSender

    return TwilioSender(
        settings.twilio_api_base,
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        timeout_s=settings.channel_http_timeout_s,
    )


CONNECTOR = Connector("sms", sender=_sender, webhooks=(MESSAGES, STATUSES))
