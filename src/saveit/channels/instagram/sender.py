"""Instagram messaging, outbound: :class:`InstagramSender` POSTs to
``/{ig_id}/messages``."""

from __future__ import annotations

import logging
from typing import Any

from saveit.channels.meta.graph import (
    ELLIPSIS,
    GraphSender,
    access_token,
    cut,
    cut_utf8,
)
from saveit.channels.meta.webhook import (
    as_str,
)
from saveit.domain.channel_ports import (
    ChannelAccount,
    SendContext,
    SendFailed,
    SendResult,
)
from saveit.domain.messages import (
    ChannelName,
    OutboundMessage,
)

log = logging.getLogger(__name__)

TEXT_MAX_BYTES = 1000  # Instagram counts the text's UTF-8 bytes
QUICK_REPLY_TITLE_MAX = 20
QUICK_REPLIES_MAX = 13


# --- outbound ---------------------------------------------------------------------


class InstagramSender(GraphSender):
    """Sends one :class:`OutboundMessage` as Instagram direct messages.

    * Text ≤ 1000 UTF-8 bytes (cut with an ellipsis); buttons and list options
      both become quick replies (at most 13, titles ≤ 20 characters, our choice id
      as the payload). List option descriptions are not shown: quick replies hold
      a title only.
    * ``message.image`` with a URL is a second message (an image attachment by
      URL), or the only one when there is no text; an image with bytes only and
      ``message.attachments`` are skipped (no upload).
    * Outside the 24-hour window: ``SendFailed(code="WINDOW_CLOSED")``. The
      ``HUMAN_AGENT`` message tag (7 days) is deliberately not used: it is for
      replies written by a person, and these are the bot's.
    * The result is the first message's id; a failed follow-up image is logged
      without failing the send, so the worker does not repeat the text.
    """

    channel: ChannelName = "instagram"
    name = "instagram"

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        token = access_token(account.settings)
        if not context.window_open:
            raise SendFailed(
                "24-hour window closed: Instagram allows no message now",
                code="WINDOW_CLOSED",
                retryable=False,
            )
        parts = _render(message)
        if not parts:
            raise SendFailed(
                "message has nothing Instagram can send", code="EMPTY", retryable=False
            )
        return self._send_parts(parts, lambda part: self._post(account.address, token, to, part))

    def _post(self, node: str, token: str, to: str, message: dict[str, Any]) -> str:
        answer = self._graph.post_messages(
            node, token, {"recipient": {"id": to}, "message": message}
        )
        message_id = as_str(answer.get("message_id"))
        if message_id is None:
            raise SendFailed(
                "Instagram answer has no message_id", code="BAD_RESPONSE", retryable=False
            )
        return message_id


def _render(message: OutboundMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    quick_replies = [
        {
            "content_type": "text",
            "title": cut(choice.title, QUICK_REPLY_TITLE_MAX),
            "payload": choice.id,
        }
        for choice in message.choices[:QUICK_REPLIES_MAX]
    ]
    if message.text.strip() or quick_replies:
        main: dict[str, Any] = {
            "text": cut_utf8(message.text, TEXT_MAX_BYTES) if message.text.strip() else ELLIPSIS
        }
        if quick_replies:
            main["quick_replies"] = quick_replies
        parts.append(main)
    image = message.image
    if image is not None and image.url:
        parts.append({"attachment": {"type": "image", "payload": {"url": image.url}}})
    elif image is not None:
        log.info("instagram: image without a URL not sent")
    if message.attachments:
        log.info("instagram: %d attachment(s) not sent (no URL)", len(message.attachments))
    return parts
