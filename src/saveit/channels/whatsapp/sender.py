"""WhatsApp Business Cloud API, outbound: :class:`WhatsAppSender` renders an
:class:`OutboundMessage` to the Cloud API's message types and POSTs it to
``/{phone_number_id}/messages``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from saveit.channels.meta.graph import (
    ELLIPSIS,
    GraphSender,
    access_token,
    cut,
)
from saveit.channels.meta.webhook import (
    as_dict,
    as_list,
    as_str,
)
from saveit.channels.whatsapp.inbound import USER_PREFIX, e164_digits
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
    digits = e164_digits(to)
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
