"""The web chat's sender: it has no provider, so a stored message *is* delivered,
and the ``message.sent`` event carries it to the guest's open widget on any
process."""

from __future__ import annotations

from saveit.domain.channel_ports import ChannelAccount, SendContext, SendResult
from saveit.domain.messages import ChannelName, OutboundMessage


class WebchatSender:
    channel: ChannelName = "webchat"

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        return SendResult(context.message_id)
