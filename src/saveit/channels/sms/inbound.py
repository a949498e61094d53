"""SMS through Twilio Programmable Messaging, inbound: webhook signatures,
inbound and status parsing (the REST sender is :mod:`saveit.channels.sms.sender`).

The inbound side is plain functions the webhook routes call in this order:
:func:`parse_form` on the raw body, :func:`verify_signature` against
:func:`public_url`, then :func:`parse_inbound` or :func:`parse_status`; the
route answers :func:`twiml_empty`.

Why the care with the form: Twilio signs the decoded value of *every* POST
parameter, blank ones included (``ToCity=``), and adds parameters without
notice. A parser that drops blanks, or a check against a fixed list of names,
rejects genuine requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from saveit.domain import errors
from saveit.domain.channel_ports import (
    MalformedPayload,
    SignatureInvalid,
)
from saveit.domain.messages import (
    DeliveryStatus,
    InboundMessage,
    StatusUpdate,
    WebhookBatch,
)
from saveit.store.guests import normalise_phone

SIGNATURE_HEADER: Final = "X-Twilio-Signature"
TWIML_CONTENT_TYPE: Final = "text/xml"
_MAX_FORM_FIELDS: Final = 1000  # Twilio sends a few dozen; more is not Twilio
_DEFAULT_PORTS: Final = {"https": "443", "http": "80"}

# Statuses that report no step past the ``queued`` our delivery worker already
# records when Twilio accepts the message: reporting them would only add writes
# that :func:`saveit.domain.messages.advances` refuses anyway.
_NO_STEP: Final = frozenset({"queued", "accepted", "scheduled", "sending", "partially_delivered"})
_INBOUND_ONLY: Final = frozenset({"receiving", "received"})
_STATUS_MAP: Final = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,  # a scheduled message that will never go out
}


# --- inbound: form, URL, signature ---------------------------------------------------


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body, keeping blank values
    and repeated names in order.

    Blank values must survive because Twilio signed them; repeated names stay
    because the signature covers each of their values. Bytes that are not UTF-8,
    raw or percent-encoded, raise :class:`MalformedPayload` (answer 400) rather
    than being replaced, which would also change what the signature covers.
    """
    try:
        text = raw.decode("utf-8")
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError is a ValueError; so is too many fields
        raise MalformedPayload(f"not a UTF-8 form body: {exc}") from None


def public_url(request_url: str, public_base_url: str | None) -> str:
    """The URL Twilio called, which is the URL it signed.

    Behind a TLS-terminating proxy the app sees ``http://internal:8000/…`` while
    Twilio signed ``https://book.example.com/…``. With ``public_base_url`` set,
    its scheme and host (and port) replace the request's, and the request's
    path and query string are kept exactly as received (percent-escapes
    included). A base with a path (``https://example.com/saveit``) is put in
    front of the request path, unless the request path already starts with it
    (the app was told its root path, as with ``uvicorn --root-path``), so both
    proxy set-ups give the same URL. Without a base, the request URL as is.
    """
    if not public_base_url:
        return request_url
    base = urlsplit(public_base_url.strip())
    if base.scheme not in _DEFAULT_PORTS or not base.netloc:
        raise ValueError("public_base_url must be an absolute http(s) URL")
    tail = _after_authority(request_url)
    prefix = base.path.rstrip("/")
    if prefix and not _starts_with_segment(tail, prefix):
        tail = prefix + tail
    return f"{base.scheme}://{base.netloc}{tail}"


def compute_signature(url: str, params: Sequence[tuple[str, str]], auth_token: str) -> str:
    """``X-Twilio-Signature`` for a request: base64 of HMAC-SHA1 keyed with the
    auth token over the URL followed by name+value of every POST parameter.

    Parameters sort by name (code point order); a name sent more than once
    contributes each *distinct* value, in sorted order, so the order Twilio
    listed them in does not matter and an exact duplicate counts once. This is
    what Twilio's own ``RequestValidator`` computes; tests hold us to it.
    Exposed so tests and tools can sign requests the way Twilio does.
    """
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    url: str, params: Sequence[tuple[str, str]], signature: str | None, auth_token: str
) -> None:
    """Raise :class:`SignatureInvalid` unless Twilio signed this request.

    ``url`` is the public URL (:func:`public_url`), ``params`` every POST
    parameter as :func:`parse_form` returned them. Twilio is known to sign
    ``https://host/…`` sometimes with the default port (``:443``, ``:80``) and
    sometimes without, so, like ``RequestValidator``, the URL without any port
    and the URL with the default port added are both accepted. Comparison is
    constant-time over bytes (``compare_digest`` refuses non-ASCII text, and a
    forged header may hold any).
    """
    if not auth_token:
        raise SignatureInvalid("no Twilio auth token configured")
    if not signature or not signature.strip():
        raise SignatureInvalid(f"missing {SIGNATURE_HEADER}")
    given = signature.strip().encode("utf-8")
    matched = False
    for candidate in _port_variants(url):
        expected = compute_signature(candidate, params, auth_token).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the request")


def _after_authority(url: str) -> str:
    """Everything after ``scheme://host:port``, byte for byte (no re-quoting)."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        raise ValueError("request URL must be absolute")
    rest = url[scheme_end + 3 :]
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[index:]
    return ""


def _starts_with_segment(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + "/", prefix + "?"))


def _port_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal: the port follows the bracket
        host, _, port = hostport.partition("]")
        host += "]"
        port = port.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    default = _DEFAULT_PORTS.get(parts.scheme.lower(), "80")
    without_port = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:{port or default}"))
    return list(dict.fromkeys((url, without_port, with_port)))


# --- inbound: messages and statuses -----------------------------------------------------


def parse_inbound(
    params: Sequence[tuple[str, str]],
    now: datetime | None = None,
    *,
    raw: str | bytes | None = None,
    default_region: str = "ES",
) -> WebhookBatch:
    """One guest SMS as an :class:`InboundMessage`.

    Twilio sends no timestamp, so ``sent_at`` is ``now`` (aware; UTC when not
    given). ``raw`` is the body as received, kept for audit; without it the
    parameters are encoded back into a form. ``From``/``To`` become E.164 so an
    SMS guest is the same guest as on WhatsApp.

    Missing ``MessageSid`` (or ``SmsSid``), ``From`` or ``To`` means this is not
    a Twilio message webhook: :class:`MalformedPayload`. Parts we cannot use are
    skipped with a reason in ``ignored`` (no guest phone numbers there: it is
    logged): a sender that is no phone number (carrier notices from "Movistar",
    short codes, ``whatsapp:`` addresses of another Twilio channel), MMS media
    (unsupported; the text of an MMS is still kept) and empty messages.
    """
    fields = _first_values(params)
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    sender_raw = fields.get("From")
    recipient_raw = fields.get("To")
    if not sid:
        raise MalformedPayload("Twilio message webhook without MessageSid")
    if not sender_raw or not recipient_raw:
        raise MalformedPayload(f"Twilio message {sid} without From or To")
    at = _utc(now)
    batch = WebhookBatch()
    sender = _phone(sender_raw, default_region)
    recipient = _phone(recipient_raw, default_region)
    if sender is None or recipient is None:
        which = "From" if sender is None else "To"
        batch.ignored.append(f"Twilio message {sid}: {which} is not a phone number")
        return batch
    body = fields.get("Body", "")
    media = _count(fields.get("NumMedia", "0"), "NumMedia", sid)
    if media > 0:
        kinds = sorted({fields.get(f"MediaContentType{i}") or "unknown" for i in range(media)})
        note = (
            f"Twilio message {sid}: {media} media attachment(s) ignored ({', '.join(kinds)}); "
            "MMS media is not supported"
        )
        batch.ignored.append(note if body.strip() else note + ", and there is no text")
    if not body.strip():
        if media == 0:
            batch.ignored.append(f"Twilio message {sid}: empty SMS")
        return batch
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    batch.messages.append(
        InboundMessage(
            channel="sms",
            provider_message_id=sid,
            sender=sender,
            recipient=recipient,
            text=body,
            sent_at=at,
            raw=raw if raw is not None else urlencode(list(params)),
        )
    )
    return batch


def parse_status(params: Sequence[tuple[str, str]], now: datetime | None = None) -> WebhookBatch:
    """A status callback on one of our messages as a :class:`StatusUpdate`.

    ``sent``, ``delivered`` and ``read`` map to themselves; ``undelivered``,
    ``failed`` and ``canceled`` are ``failed`` with Twilio's ``ErrorCode``
    (e.g. ``30003``, unreachable handset) so the failure is visible and
    explainable. ``queued``, ``accepted``, ``scheduled`` and ``sending`` are
    skipped with a reason: our message is already ``queued`` once Twilio has
    accepted it, and these never move it forward. Unknown statuses (Twilio adds
    them without notice) are skipped, not refused. Timestamps are ``now``:
    Twilio's callbacks carry no usable one.
    """
    fields = _first_values(params)
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").strip().lower()
    if not sid:
        raise MalformedPayload("Twilio status callback without MessageSid")
    if not status:
        raise MalformedPayload(f"Twilio status callback for {sid} without MessageStatus")
    at = _utc(now)
    batch = WebhookBatch()
    mapped = _STATUS_MAP.get(status)
    if mapped is None:
        if status in _NO_STEP:
            reason = "no step past queued"
        elif status in _INBOUND_ONLY:
            reason = "a status of an inbound message"
        else:
            reason = "unknown status"
        batch.ignored.append(f"Twilio status {status!r} of {sid}: {reason}")
        return batch
    error_code: str | None = None
    error_detail: str | None = None
    if mapped is DeliveryStatus.FAILED:
        error_code = (fields.get("ErrorCode") or "").strip() or None
        error_detail = (fields.get("ErrorMessage") or "").strip() or _describe(status, error_code)
    batch.statuses.append(
        StatusUpdate(
            channel="sms",
            provider_message_id=sid,
            status=mapped,
            at=at,
            error_code=error_code,
            error_detail=error_detail,
        )
    )
    return batch


def twiml_empty() -> str:
    """The webhook answer (``text/xml``): nothing to send inline, because replies
    go out through the REST API from the delivery worker."""
    return '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _first_values(params: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Name → first value: the fields we read are never repeated by Twilio."""
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    return fields


def _phone(address: str, default_region: str) -> str | None:
    # ``whatsapp:+34…`` would parse as a phone number; it belongs to another channel.
    if ":" in address:
        return None
    try:
        return normalise_phone(address, default_region)
    except errors.ValidationFailed:
        return None


def _count(text: str, name: str, sid: str) -> int:
    try:
        value = int(text.strip() or "0")
    except ValueError:
        raise MalformedPayload(f"Twilio message {sid}: {name} is not a number") from None
    if value < 0:
        raise MalformedPayload(f"Twilio message {sid}: {name} is negative")
    return value


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _describe(status: str, code: str | None) -> str:
    if code is None:
        return f"Twilio reported the message {status}"
    return (
        f"Twilio reported the message {status} with error {code} "
        f"(https://www.twilio.com/docs/api/errors/{code})"
    )
