"""Senders by channel name, built from settings: the composition root's list of
what can go out. A channel whose provider is not configured has no sender, and
its queued messages fail visibly as ``NOT_CONFIGURED`` instead of vanishing."""

from __future__ import annotations

from saveit.config import Settings
from saveit.domain.channel_ports import ChannelAccount, SendContext, Sender, SendResult
from saveit.domain.messages import ChannelName, OutboundMessage


class WebchatSender:
    """The web chat has no provider: a stored message *is* delivered, and the
    ``message.sent`` event carries it to the guest's open widget on any process."""

    channel: ChannelName = "webchat"

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        return SendResult(context.message_id)


def build_senders(settings: Settings) -> dict[str, Sender]:
    from saveit.channels.instagram import InstagramSender
    from saveit.channels.twilio_sms import TwilioSender
    from saveit.channels.whatsapp import WhatsAppSender

    timeout = settings.channel_http_timeout_s
    senders: dict[str, Sender] = {
        "webchat": WebchatSender(),
        "whatsapp": WhatsAppSender(
            settings.graph_api_base, settings.graph_api_version, timeout_s=timeout
        ),
        "instagram": InstagramSender(
            settings.graph_api_base, settings.graph_api_version, timeout_s=timeout
        ),
    }
    if settings.twilio_account_sid and settings.twilio_auth_token is not None:
        senders["sms"] = TwilioSender(
            settings.twilio_api_base,
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            timeout_s=timeout,
        )
    if settings.smtp_relay_host:
        from saveit.channels.email_proof import ReplyAddresses
        from saveit.channels.email_send import EmailSender

        replies = ReplyAddresses(settings.secret_key.get_secret_value().encode())

        password = settings.smtp_relay_password
        senders["email"] = EmailSender(
            settings.smtp_relay_host,
            settings.smtp_relay_port,
            username=settings.smtp_relay_username,
            password=None if password is None else password.get_secret_value(),
            starttls=settings.smtp_relay_starttls,
            timeout_s=timeout,
            reply_address=lambda account, to: replies.address(
                account.address, account.restaurant_id, to
            ),
        )
    return senders
