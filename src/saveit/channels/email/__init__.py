"""Email: inbound mail arrives on our own SMTP server (:mod:`.smtp_server`,
:mod:`.inbound`), is parsed (:mod:`.parse`, :mod:`.quotes`, :mod:`.html`) and
its sender's claim weighed (:mod:`.proof`); replies leave through the
configured relay (:mod:`.compose`, :mod:`.sender`) with an ``.ics``
(:mod:`.ics`) on confirmations. No webhook: SMTP is the inbound side."""

from __future__ import annotations

from saveit.channels.connector import Connector
from saveit.config import Settings
from saveit.domain.channel_ports import Sender


def _sender(settings: Settings) -> Sender | None:
    if not settings.smtp_relay_host:
        return None
    from saveit.channels.email.proof import ReplyAddresses
    from saveit.channels.email.sender import EmailSender

    replies = ReplyAddresses(settings.secret_key.get_secret_value().encode())

    password = settings.smtp_relay_password
    return EmailSender(
        settings.smtp_relay_host,
        settings.smtp_relay_port,
        username=settings.smtp_relay_username,
        password=None if password is None else password.get_secret_value(),
        starttls=settings.smtp_relay_starttls,
        timeout_s=settings.channel_http_timeout_s,
        reply_address=lambda account, to: replies.address(
            account.address, account.restaurant_id, to
        ),
    )


CONNECTOR = Connector("email", sender=_sender)
