"""Instagram messaging (Instagram API with Instagram Login): webhook parsing and
the sender.

Inbound, :func:`parse` reads the ``entry[].messaging[]`` events of one signed
webhook body (check it first with :func:`saveit.channels.meta.verify_signature`).
Only guest text, and quick-reply taps, become messages; our own messages coming
back as echoes, reads, reactions, postbacks, deleted or attachment-only messages
are skipped with a reason. The ``entry[].changes[]`` form carries comments and
mentions, and Meta does not document messages in it for this API: such changes
are skipped with a reason too.

Outbound, :class:`InstagramSender` POSTs to ``/{ig_id}/messages``.
"""

from __future__ import annotations

import logging
from typing import Any

from saveit.channels.meta import (
    ELLIPSIS,
    GraphSender,
    access_token,
    as_dict,
    as_list,
    as_str,
    cut,
    cut_utf8,
    dump_raw,
    entries,
    epoch,
)
from saveit.domain.channel_ports import (
    ChannelAccount,
    SendContext,
    SendFailed,
    SendResult,
)
from saveit.domain.messages import (
    ChannelName,
    Choice,
    InboundMessage,
    OutboundMessage,
    WebhookBatch,
)

log = logging.getLogger(__name__)

OBJECT = "instagram"
TEXT_MAX_BYTES = 1000  # Instagram counts the text's UTF-8 bytes
QUICK_REPLY_TITLE_MAX = 20
QUICK_REPLIES_MAX = 13
_ENVELOPE_KEYS = frozenset({"sender", "recipient", "timestamp"})


# --- inbound ----------------------------------------------------------------------


def parse(raw: bytes) -> WebhookBatch:
    """Read one Instagram webhook body.

    Raises :class:`~saveit.domain.channel_ports.MalformedPayload` (and nothing else) for
    a body that is not UTF-8 JSON, not an object, not ``object: "instagram"``, or
    has no ``entry`` list; every other oddity is an ``ignored`` reason.
    """
    batch = WebhookBatch()
    for entry_id, entry in entries(raw, OBJECT):
        events = as_list(entry.get("messaging"))
        for event in events:
            result = _event(as_dict(event), entry, entry_id)
            if isinstance(result, str):
                batch.ignored.append(result)
            else:
                batch.messages.append(result)
        for change in as_list(entry.get("changes")):
            field = as_str(as_dict(change).get("field"))
            batch.ignored.append(f"entry {entry_id}: change field {field!r} not handled")
        if entry.get("standby") is not None:
            batch.ignored.append(f"entry {entry_id}: standby events (another app owns the thread)")
        if not events and entry.get("changes") is None and entry.get("standby") is None:
            batch.ignored.append(f"entry {entry_id}: no messaging events")
    return batch


def _event(event: dict[str, Any], entry: dict[str, Any], entry_id: str) -> InboundMessage | str:
    """One messaging event as a guest message, or why it was skipped (ids only)."""
    message = event.get("message")
    if not isinstance(message, dict):
        kinds = sorted(k for k in event if k not in _ENVELOPE_KEYS)[:5]
        return f"entry {entry_id}: event without message ({', '.join(kinds) or 'empty'})"
    mid = as_str(message.get("mid"))
    if mid is None:
        return f"entry {entry_id}: message without mid"
    sender = as_str(as_dict(event.get("sender")).get("id"))
    recipient = as_str(as_dict(event.get("recipient")).get("id")) or as_str(entry.get("id"))
    ours = as_str(entry.get("id"))
    if message.get("is_echo") is True or (sender is not None and sender == ours):
        return f"message {mid}: echo of our own message"
    if message.get("is_deleted") is True:
        return f"message {mid}: deleted by the guest"
    if message.get("is_unsupported") is True:
        return f"message {mid}: unsupported by the API"
    if sender is None or recipient is None:
        return f"message {mid}: no sender or recipient id"
    text = message.get("text")
    if not isinstance(text, str) or not text:
        if message.get("attachments") is not None:
            return f"message {mid}: attachments only"
        return f"message {mid}: no text"
    sent_at = epoch(event.get("timestamp"), millis=True) or epoch(entry.get("time"), millis=True)
    if sent_at is None:
        return f"message {mid}: no valid timestamp"
    choice = None
    payload = as_str(as_dict(message.get("quick_reply")).get("payload"))
    if payload is not None:
        choice = Choice(payload, text)
    return InboundMessage(
        channel="instagram",
        provider_message_id=mid,
        sender=sender,
        recipient=recipient,
        text=text,
        sent_at=sent_at,
        choice=choice,
        reply_to=as_str(as_dict(message.get("reply_to")).get("mid")),
        raw=dump_raw(event),
    )


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
