"""Instagram messaging (Instagram API with Instagram Login), inbound: webhook
parsing.

Inbound, :func:`parse` reads the ``entry[].messaging[]`` events of one signed
webhook body (check it first with :func:`saveit.channels.meta.webhook.verify_signature`).
Only guest text, and quick-reply taps, become messages; our own messages coming
back as echoes, reads, reactions, postbacks, deleted or attachment-only messages
are skipped with a reason. The ``entry[].changes[]`` form carries comments and
mentions, and Meta does not document messages in it for this API: such changes
are skipped with a reason too.
"""

from __future__ import annotations

import logging
from typing import Any

from saveit.channels.meta.webhook import (
    as_dict,
    as_list,
    as_str,
    dump_raw,
    entries,
    epoch,
)
from saveit.domain.messages import (
    Choice,
    InboundMessage,
    WebhookBatch,
)

log = logging.getLogger(__name__)

OBJECT = "instagram"
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
