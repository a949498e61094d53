"""WhatsApp Business Cloud API: webhook parsing and the sender.

Inbound, :func:`parse` turns one signed webhook body (check it first with
:func:`saveit.channels.meta.verify_signature`) into guest messages and delivery
statuses. One POST can batch several entries and changes; all are read, and
anything we cannot use (media, reactions, unknown statuses, other webhook
fields) is skipped with a reason for the log instead of failing the batch: a
non-200 answer makes Meta redeliver the whole body for days.

Outbound, :class:`WhatsAppSender` renders an :class:`OutboundMessage` to the
Cloud API's message types and POSTs it to ``/{phone_number_id}/messages``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from saveit.channels.meta import (
    ELLIPSIS,
    GraphSender,
    access_token,
    as_dict,
    as_list,
    as_str,
    cut,
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
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    StatusUpdate,
    WebhookBatch,
)

log = logging.getLogger(__name__)

OBJECT = "whatsapp_business_account"
USER_PREFIX = "wa-user:"  # a guest known only by their business-scoped user id (BSUID)

_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}
_BSUID_RE = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]+")

# Cloud API limits, in characters.
TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_LABEL_MAX = 20
ROW_ID_MAX = 200
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
CAPTION_MAX = 1024
TEMPLATE_PARAM_MAX = 1024
_LIST_LABELS = {"es": "Ver opciones", "en": "See options"}


# --- inbound ----------------------------------------------------------------------


def parse(raw: bytes) -> WebhookBatch:
    """Read one WhatsApp webhook body.

    Raises :class:`~saveit.domain.channel_ports.MalformedPayload` (and nothing else) for
    a body that is not UTF-8 JSON, not an object, not a WhatsApp Business Account
    webhook, or has no ``entry`` list; every other oddity is an ``ignored`` reason.
    """
    batch = WebhookBatch()
    for entry_id, entry in entries(raw, OBJECT):
        changes = as_list(entry.get("changes"))
        if not changes:
            batch.ignored.append(f"entry {entry_id}: no changes")
        for change_item in changes:
            change = as_dict(change_item)
            field = as_str(change.get("field"))
            if field != "messages":
                batch.ignored.append(f"entry {entry_id}: field {field!r} not handled")
                continue
            _read_value(as_dict(change.get("value")), entry_id, batch)
    return batch


def _read_value(value: dict[str, Any], entry_id: str, batch: WebhookBatch) -> None:
    phone_number_id = as_str(as_dict(value.get("metadata")).get("phone_number_id"))
    contacts = [as_dict(c) for c in as_list(value.get("contacts"))]
    messages = as_list(value.get("messages"))
    statuses = as_list(value.get("statuses"))
    for item in messages:
        result = _message(as_dict(item), phone_number_id, contacts)
        if isinstance(result, str):
            batch.ignored.append(result)
        else:
            batch.messages.append(result)
    for item in statuses:
        status = _status(as_dict(item))
        if isinstance(status, str):
            batch.ignored.append(status)
        else:
            batch.statuses.append(status)
    for item in as_list(value.get("errors")):
        error = as_dict(item)
        batch.ignored.append(
            f"entry {entry_id}: webhook error {as_str(error.get('code'))}: {_error_text(error)}"
        )
    if not messages and not statuses and not value.get("errors"):
        batch.ignored.append(f"entry {entry_id}: change without messages or statuses")


def _message(
    msg: dict[str, Any], phone_number_id: str | None, contacts: list[dict[str, Any]]
) -> InboundMessage | str:
    """One inbound message, or the reason it was skipped (ids and types only:
    reasons are logged, message text is not)."""
    mid = as_str(msg.get("id"))
    if mid is None:
        return "message without id"
    mtype = as_str(msg.get("type")) or "?"
    if phone_number_id is None:
        return f"message {mid}: no metadata.phone_number_id to route it"
    if msg.get("group_id") is not None:
        return f"message {mid}: group message not handled"
    content = _content(msg, mtype)
    if isinstance(content, str):
        return f"message {mid}: {content}"
    text, choice = content
    sent_at = epoch(msg.get("timestamp"))
    if sent_at is None:
        return f"message {mid}: no valid timestamp"
    contact = _contact(msg, contacts)
    sender = _sender(msg, contact)
    if sender is None:
        return f"message {mid}: no sender (from, wa_id or user_id)"
    return InboundMessage(
        channel="whatsapp",
        provider_message_id=mid,
        sender=sender,
        recipient=phone_number_id,
        text=text,
        sent_at=sent_at,
        choice=choice,
        sender_name=as_str(as_dict(contact.get("profile")).get("name")),
        reply_to=as_str(as_dict(msg.get("context")).get("id")),
        raw=dump_raw(msg),
    )


def _content(msg: dict[str, Any], mtype: str) -> tuple[str, Choice | None] | str:
    if mtype == "text":
        body = as_dict(msg.get("text")).get("body")
        if not isinstance(body, str):
            return "text message without body"
        return body, None
    if mtype == "interactive":
        interactive = as_dict(msg.get("interactive"))
        kind = as_str(interactive.get("type"))
        if kind not in ("button_reply", "list_reply"):
            return f"interactive type {kind!r} not supported"
        reply = as_dict(interactive.get(kind))
        choice_id = as_str(reply.get("id"))
        if choice_id is None:
            return f"{kind} without id"
        title = as_str(reply.get("title")) or choice_id
        return title, Choice(choice_id, title)
    if mtype == "button":  # a quick-reply button of a template message
        button = as_dict(msg.get("button"))
        text = as_str(button.get("text"))
        payload = as_str(button.get("payload")) or text
        if payload is None:
            return "button without payload or text"
        return text or payload, Choice(payload, text or payload)
    return f"type {mtype!r} not supported"


def _digits(value: object) -> str | None:
    """An E.164 number's digits (WhatsApp writes them without the ``+``)."""
    text = as_str(value)
    if text is None:
        return None
    text = text.removeprefix("+")
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return text
    return None


def _contact(msg: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {k for k in (_digits(msg.get("from")), as_str(msg.get("from_user_id"))) if k}
    for contact in contacts:
        if _digits(contact.get("wa_id")) in keys or as_str(contact.get("user_id")) in keys:
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _sender(msg: dict[str, Any], contact: Mapping[str, Any]) -> str | None:
    """``+<digits>`` when WhatsApp shares the phone number, else ``wa-user:<BSUID>``.

    Users who adopted a username may reach us without ``from``/``wa_id``; their
    business-scoped user id (``from_user_id``, ``contacts[].user_id``) is then
    the only stable identity, and the sender can reply to it.
    """
    phone = _digits(msg.get("from")) or _digits(contact.get("wa_id"))
    if phone is not None:
        return "+" + phone
    user_id = as_str(msg.get("from_user_id")) or as_str(contact.get("user_id"))
    if user_id is None:
        sender = as_str(msg.get("from"))
        if sender is not None and _BSUID_RE.fullmatch(sender):
            user_id = sender
    return None if user_id is None else USER_PREFIX + user_id


def _status(st: dict[str, Any]) -> StatusUpdate | str:
    sid = as_str(st.get("id"))
    if sid is None:
        return "status without id"
    name = as_str(st.get("status"))
    status = _STATUSES.get(name or "")
    if status is None:
        return f"status {sid}: status {name!r} not handled"
    at = epoch(st.get("timestamp"))
    if at is None:
        return f"status {sid}: no valid timestamp"
    code = detail = None
    if status is DeliveryStatus.FAILED:
        errors = as_list(st.get("errors"))
        error = as_dict(errors[0]) if errors else {}
        code = as_str(error.get("code"))
        detail = _error_text(error) or None
    return StatusUpdate(
        channel="whatsapp",
        provider_message_id=sid,
        status=status,
        at=at,
        error_code=code,
        error_detail=detail,
    )


def _error_text(error: Mapping[str, Any]) -> str:
    """``title`` (or ``message``), with ``error_data.details`` when it says more."""
    base = as_str(error.get("title")) or as_str(error.get("message")) or ""
    details = as_str(as_dict(error.get("error_data")).get("details"))
    if details and details != base:
        return f"{base}: {details}" if base else details
    return base


# --- outbound ---------------------------------------------------------------------


class WhatsAppSender(GraphSender):
    """Sends one :class:`OutboundMessage` through the Cloud API.

    * Recipient: ``+<E.164>`` goes out as ``to`` (digits only); ``wa-user:<BSUID>``
      (a guest who hides their number behind a username) goes out in the
      ``recipient`` field Meta added for business-scoped user ids, without ``to``.
      Meta refuses some message kinds for BSUIDs (error 131062, final).
    * Rendering: text as ``type:"text"`` (≤ 4096 characters, link previews off);
      buttons as reply buttons (body ≤ 1024, titles ≤ 20, ids ≤ 256); options as
      a list message (one section; label ≤ 20, row id ≤ 200, title ≤ 24,
      description ≤ 72). Longer texts are cut with an ellipsis.
    * ``message.image`` with a URL is a separate ``type:"image"`` message after the
      main one (the only one when there is no text); an image with bytes only
      is skipped: the Cloud API fetches media by URL and we do not upload.
    * ``message.attachments`` are skipped: WhatsApp sends files as
      ``type:"document"`` by link, and an :class:`Attachment` carries bytes, not a
      URL (the email channel carries the ``.ics``).
    * Outside the 24-hour window (``context.window_open is False``) only the
      restaurant's approved template goes out (``settings["template_name"]``,
      language ``settings["template_language"]`` or the guest's), its one body
      parameter being the message text with the choices as numbered lines, on
      one line (parameters may not hold newlines, tabs or runs of spaces). No
      template configured: ``SendFailed(code="WINDOW_CLOSED")``; buttons, lists and
      the image are not sent then.
    * The result is the id of the first (main) message. When a follow-up image
      fails after the main message went out, the failure is logged and the main
      id still returned: failing the whole send would make the worker repeat a
      message the guest already has.
    """

    channel: ChannelName = "whatsapp"
    name = "whatsapp"

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        token = access_token(account.settings)
        head: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **_address(to),
        }
        if not context.window_open:
            parts = [_template(account.settings, message, context)]
        else:
            parts = _render(message, context.language)
        if not parts:
            raise SendFailed("message has nothing WhatsApp can send", code="EMPTY", retryable=False)
        return self._send_parts(
            parts, lambda part: self._post(account.address, token, {**head, **part})
        )

    def _post(self, node: str, token: str, payload: dict[str, Any]) -> str:
        answer = self._graph.post_messages(node, token, payload)
        messages = as_list(answer.get("messages"))
        message_id = as_str(as_dict(messages[0]).get("id")) if messages else None
        if message_id is None:
            raise SendFailed(
                "Cloud API answer has no messages[0].id", code="BAD_RESPONSE", retryable=False
            )
        return message_id


def _address(to: str) -> dict[str, str]:
    to = to.strip()
    if to.startswith(USER_PREFIX):
        user_id = to.removeprefix(USER_PREFIX)
        if user_id:
            return {"recipient": user_id}
    digits = _digits(to)
    if digits is None:
        raise SendFailed(
            "recipient is neither an E.164 number nor wa-user:<id>",
            code="BAD_RECIPIENT",
            retryable=False,
        )
    return {"to": digits}


def _render(message: OutboundMessage, language: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.buttons:
        parts.append(
            _interactive(
                "button",
                message.text,
                {
                    "buttons": [
                        {
                            "type": "reply",
                            "reply": {
                                "id": b.id[:BUTTON_ID_MAX],
                                "title": cut(b.title, BUTTON_TITLE_MAX),
                            },
                        }
                        for b in message.buttons
                    ]
                },
            )
        )
    elif message.options:
        label = message.options_label or _LIST_LABELS.get(_lang(language), _LIST_LABELS["es"])
        rows: list[dict[str, str]] = []
        for option in message.options:
            row = {"id": option.id[:ROW_ID_MAX], "title": cut(option.title, ROW_TITLE_MAX)}
            if option.description:
                row["description"] = cut(option.description, ROW_DESCRIPTION_MAX)
            rows.append(row)
        parts.append(
            _interactive(
                "list",
                message.text,
                {"button": cut(label, LIST_LABEL_MAX), "sections": [{"rows": rows}]},
            )
        )
    elif message.text:
        parts.append(
            {"type": "text", "text": {"body": cut(message.text, TEXT_MAX), "preview_url": False}}
        )
    image = message.image
    if image is not None and image.url:
        content: dict[str, str] = {"link": image.url}
        if image.caption:
            content["caption"] = cut(image.caption, CAPTION_MAX)
        parts.append({"type": "image", "image": content})
    elif image is not None:
        log.info("whatsapp: image without a URL not sent")
    if message.attachments:
        log.info("whatsapp: %d attachment(s) not sent (no URL)", len(message.attachments))
    return parts


def _interactive(kind: str, text: str, action: dict[str, Any]) -> dict[str, Any]:
    body = cut(text, INTERACTIVE_BODY_MAX) if text.strip() else ELLIPSIS
    return {
        "type": "interactive",
        "interactive": {"type": kind, "body": {"text": body}, "action": action},
    }


def _lang(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def _template(
    settings: Mapping[str, Any], message: OutboundMessage, context: SendContext
) -> dict[str, Any]:
    name = settings.get("template_name")
    if not isinstance(name, str) or not name:
        raise SendFailed(
            "24-hour window closed and no WhatsApp template configured",
            code="WINDOW_CLOSED",
            retryable=False,
        )
    language = settings.get("template_language")
    if not isinstance(language, str) or not language:
        language = context.language or "es"
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": template_parameter(message)}],
                }
            ],
        },
    }


def template_parameter(message: OutboundMessage) -> str:
    """The message as one template body parameter: choices as numbered lines, lines
    joined by " · ", whitespace runs collapsed (Meta rejects parameters with
    newlines, tabs or more than three spaces in a row), at most 1024 characters."""
    text = message.numbered_text()
    if not text and message.image is not None:
        text = message.image.caption
    lines = (" ".join(line.split()) for line in text.splitlines())
    flat = " · ".join(line for line in lines if line)
    return cut(flat, TEMPLATE_PARAM_MAX) or ELLIPSIS
