"""Meta's webhooks, inbound, as WhatsApp and Instagram share them: the
signature, the subscription handshake, and tolerant readers for the JSON
envelopes (the Graph API client for sending is :mod:`saveit.channels.meta.graph`).

* The signature is checked over the raw request bytes, never over re-serialised
  JSON: two serialisers never agree byte for byte. Meta computes it over the body
  with non-ASCII characters written as lowercase ``\\uXXXX`` escapes, so a body
  that reached us with those characters as UTF-8 is checked in that form too.
* Webhook parsers must never crash on a shape they did not expect (Meta adds
  fields without notice, and a 500 makes Meta retry for days): past the envelope
  every field is read through :func:`as_dict`, :func:`as_list` and :func:`as_str`,
  and a part that does not fit is skipped with a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from saveit.channels.connector import Webhook, WebhookRequest, passed_through
from saveit.config import Settings
from saveit.domain import errors
from saveit.domain.channel_ports import MalformedPayload, SignatureInvalid
from saveit.domain.messages import ChannelName, WebhookBatch

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_RE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")


# --- inbound: signature and handshake ---------------------------------------------


def verify_signature(raw: bytes, header: str | None, app_secret: bytes) -> None:
    """Raise :class:`SignatureInvalid` unless ``header`` (``X-Hub-Signature-256``)
    is ``sha256=<hex>`` of HMAC-SHA256 over ``raw`` keyed with the app secret.

    When the raw bytes do not match, the body is tried once more with every
    non-ASCII character escaped as Meta escapes it before signing (lowercase
    ``\\uXXXX``, characters beyond the BMP as a surrogate pair).
    """
    if not app_secret:
        raise SignatureInvalid("no Meta app secret configured")
    if header is None:
        raise SignatureInvalid(f"missing {SIGNATURE_HEADER}")
    match = _SIGNATURE_RE.fullmatch(header.strip())
    if match is None:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is not sha256=<hex>")
    given = match.group(1).lower().encode("ascii")
    if hmac.compare_digest(_hmac_hex(app_secret, raw), given):
        return
    escaped = _meta_escaped(raw)
    if escaped is not None and hmac.compare_digest(_hmac_hex(app_secret, escaped), given):
        return
    raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")


def _hmac_hex(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode("ascii")


def _meta_escaped(raw: bytes) -> bytes | None:
    """The body with non-ASCII as ``\\uXXXX`` escapes, or None when there is none
    (or the body is not UTF-8, so no escaped form exists)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.isascii():
        return None
    return _NON_ASCII_RE.sub(_escape_char, text).encode("ascii")


def _escape_char(match: re.Match[str]) -> str:
    units = match.group(0).encode("utf-16-be", "surrogatepass")
    return "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )


def handshake(params: Mapping[str, str], verify_token: str | None) -> str:
    """Answer Meta's subscription check: the ``hub.challenge`` to echo with a 200.

    Raises :class:`SignatureInvalid` (the route answers 403) unless ``hub.mode``
    is ``subscribe`` and ``hub.verify_token`` equals the configured token; with no
    token configured every handshake is refused.
    """
    if not verify_token:
        raise SignatureInvalid("no verify token configured")
    if params.get("hub.mode") != "subscribe":
        raise SignatureInvalid("hub.mode is not subscribe")
    given = params.get("hub.verify_token", "")
    if not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8")):
        raise SignatureInvalid("hub.verify_token does not match")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise SignatureInvalid("hub.challenge is missing")
    return challenge


# --- inbound: reading Meta's envelopes --------------------------------------------


def load_envelope(raw: bytes, expected_object: str) -> dict[str, Any]:
    """The webhook body as a JSON object whose ``object`` is ``expected_object``.

    Everything a provider could not have sent is :class:`MalformedPayload` (the
    route answers 400): bytes that are not UTF-8 or not JSON, a JSON value that is
    not an object, another product's webhook.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"body is not UTF-8: {exc.reason}") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedPayload(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise MalformedPayload("body is not a JSON object")
    if doc.get("object") != expected_object:
        raise MalformedPayload(f"object is not {expected_object!r}")
    return doc


def entries(raw: bytes, expected_object: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each ``entry`` of a webhook envelope with its id (or ``#n``): both Meta
    products batch entries the same way, and a body without an entry list is
    malformed."""
    doc = load_envelope(raw, expected_object)
    found = doc.get("entry")
    if not isinstance(found, list):
        raise MalformedPayload("entry is not a list")
    for n, item in enumerate(found):
        entry = as_dict(item)
        yield as_str(entry.get("id")) or f"#{n}", entry


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    """``value`` as a non-empty string; ids sent as JSON numbers are accepted."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def epoch(value: object, *, millis: bool = False) -> datetime | None:
    """A UTC datetime from epoch seconds (WhatsApp, as a string) or milliseconds
    (Instagram, as a number); None for anything that is not a sane timestamp."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            digits = value.strip()
            if not (digits.isascii() and digits.isdigit() and len(digits) <= 20):
                return None
            number = float(int(digits))
        elif isinstance(value, int | float):
            number = float(value)
        else:
            return None
        return datetime.fromtimestamp(number / 1000 if millis else number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def dump_raw(value: object) -> str:
    """The JSON text of one provider object, kept on the message for audit."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError, TypeError):
        return ""


# --- the route's part -------------------------------------------------------------


def _verified_batch(parse: Callable[[bytes], WebhookBatch]) -> Callable[..., WebhookBatch]:
    def verify(raw: bytes, request: WebhookRequest, settings: Settings) -> WebhookBatch:
        secret = settings.meta_app_secret
        if secret is None:
            raise errors.Forbidden("Meta webhooks are not configured (SAVEIT_META_APP_SECRET)")
        verify_signature(
            raw, request.headers.get("x-hub-signature-256"), secret.get_secret_value().encode()
        )
        return parse(raw)

    return verify


def _handshake(params: Mapping[str, str], settings: Settings) -> str:
    token = settings.meta_verify_token
    return handshake(dict(params), None if token is None else token.get_secret_value())


def meta_webhook(channel: ChannelName, parse: Callable[[bytes], WebhookBatch]) -> Webhook:
    """The webhook of one Meta product at ``/webhooks/{channel}``: the app secret's
    signature, then ``parse``; the same path answers the subscription handshake."""
    return Webhook(
        path=f"/{channel}",
        name=f"{channel}_webhook",
        channel=channel,
        verify=_verified_batch(parse),
        batch=passed_through,
        signature_error=f"{SIGNATURE_HEADER} does not match the body",
        handshake=_handshake,
        handshake_name=f"{channel}_handshake",
    )
