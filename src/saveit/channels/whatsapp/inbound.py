"""WhatsApp Business Cloud API, inbound: webhook parsing.

Inbound, :func:`parse` turns one signed webhook body (check it first with
:func:`saveit.channels.meta.webhook.verify_signature`) into guest messages and delivery
statuses. One POST can batch several entries and changes; all are read, and
anything we cannot use (media, reactions, unknown statuses, other webhook
fields) is skipped with a reason for the log instead of failing the batch: a
non-200 answer makes Meta redeliver the whole body for days.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
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
    DeliveryStatus,
    InboundMessage,
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


def e164_digits(value: object) -> str | None:
    """An E.164 number's digits (WhatsApp writes them without the ``+``)."""
    text = as_str(value)
    if text is None:
        return None
    text = text.removeprefix("+")
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return text
    return None


def _contact(msg: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {k for k in (e164_digits(msg.get("from")), as_str(msg.get("from_user_id"))) if k}
    for contact in contacts:
        if e164_digits(contact.get("wa_id")) in keys or as_str(contact.get("user_id")) in keys:
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _sender(msg: dict[str, Any], contact: Mapping[str, Any]) -> str | None:
    """``+<digits>`` when WhatsApp shares the phone number, else ``wa-user:<BSUID>``.

    Users who adopted a username may reach us without ``from``/``wa_id``; their
    business-scoped user id (``from_user_id``, ``contacts[].user_id``) is then
    the only stable identity, and the sender can reply to it.
    """
    phone = e164_digits(msg.get("from")) or e164_digits(contact.get("wa_id"))
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
