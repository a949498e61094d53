"""What WhatsApp and Instagram share: Meta's webhook signature and subscription
handshake, tolerant readers for Meta's JSON envelopes, and one Graph API client
that turns every failure into a :class:`~saveit.domain.channel_ports.SendFailed`.

Why it is shaped this way:

* The signature is checked over the raw request bytes, never over re-serialised
  JSON: two serialisers never agree byte for byte. Meta computes it over the body
  with non-ASCII characters written as lowercase ``\\uXXXX`` escapes, so a body
  that reached us with those characters as UTF-8 is checked in that form too.
* Webhook parsers must never crash on a shape they did not expect (Meta adds
  fields without notice, and a 500 makes Meta retry for days): past the envelope
  every field is read through :func:`as_dict`, :func:`as_list` and :func:`as_str`,
  and a part that does not fit is skipped with a reason.
* The delivery worker retries what may succeed later (5xx, 429, timeouts, lost
  connections, Graph's own rate-limit and "temporary" codes) and fails the rest
  at once with the Graph error code, so a closed 24-hour window (131047) or an
  expired token (190) is visible instead of retried for hours.
* The access token travels only in the ``Authorization`` header and is scrubbed
  from every error text we build: exceptions end up in logs and the admin UI.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from saveit.domain.channel_ports import MalformedPayload, SendFailed, SendResult, SignatureInvalid

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_RE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")

ELLIPSIS = "…"

# Graph error codes that mean "not now" rather than "never": rate limits (4,
# 80007, 130429 throughput, 131056 pair rate limit) and temporary or unknown
# service errors (1, 2, 131000, 131016). Meta may answer these with HTTP 400.
_TRANSIENT_GRAPH_CODES = frozenset({"1", "2", "4", "80007", "130429", "131000", "131016", "131056"})
_MAX_DETAIL = 500


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


# --- outbound: text limits --------------------------------------------------------


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, ending in an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def cut_utf8(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes (Instagram counts bytes), ending in an
    ellipsis when shortened; never splits a character."""
    if len(text.encode("utf-8")) <= limit:
        return text
    budget = limit - len(ELLIPSIS.encode("utf-8"))
    kept = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return kept.rstrip() + ELLIPSIS


# --- outbound: the Graph API ------------------------------------------------------


class GraphClient:
    """POSTs to ``{base_url}/{version}/{node}/messages`` with a bearer token.

    One ``httpx.Client`` (its connection pool) per sender, created on first use
    unless one is given; senders run on the delivery worker's threads, hence the
    lock around the lazy creation.
    """

    def __init__(
        self,
        base_url: str,
        version: str,
        *,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version.strip("/")
        self.timeout_s = timeout_s
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    def messages_url(self, node: str) -> str:
        return f"{self.base_url}/{self.version}/{quote(node, safe='')}/messages"

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s)
            return self._client

    def close(self) -> None:
        """Close the connection pool this client created (a given one is left open)."""
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()
                self._client = None

    def post_messages(self, node: str, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST one message; the answer's JSON object, or :class:`SendFailed`."""
        url = self.messages_url(node)
        try:
            response = self._http().post(
                url,
                json=payload,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout_s,
            )
        except httpx.InvalidURL:
            raise SendFailed(
                "Graph API URL is not valid", code="BAD_CONFIG", retryable=False
            ) from None
        except httpx.HTTPError as exc:  # timeouts, refused or dropped connections
            raise transport_failure(exc, token) from None
        if response.status_code >= 300:
            raise response_failure(response, token)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # The message may have gone out: retrying could send it twice.
            raise SendFailed(
                f"Graph API answered {response.status_code} without a JSON object",
                code="BAD_RESPONSE",
                retryable=False,
            )
        return body


def transport_failure(exc: httpx.HTTPError, token: str) -> SendFailed:
    """A timeout or a connection that failed: always worth another try."""
    code = "TIMEOUT" if isinstance(exc, httpx.TimeoutException) else "NETWORK"
    reason = str(exc)
    detail = scrub(f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__, token)
    return SendFailed(detail, code=code, retryable=True)


def response_failure(response: httpx.Response, token: str) -> SendFailed:
    """Map a non-2xx Graph answer to :class:`SendFailed`.

    5xx and 429 are retryable, and so are Graph's rate-limit and temporary error
    codes (or an error flagged ``is_transient``) whatever the HTTP status; every
    other 4xx is final, with the Graph ``error.code`` as the code ("131047",
    "190", …) and ``error.message`` as the detail.
    """
    status = response.status_code
    error: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = as_dict(body.get("error"))
    code = as_str(error.get("code")) or f"HTTP_{status}"
    message = as_str(error.get("message")) or as_str(error.get("error_user_msg"))
    detail = scrub(message or f"Graph API answered HTTP {status}", token)
    transient = (
        status >= 500
        or status == 429
        or error.get("is_transient") is True
        or code in _TRANSIENT_GRAPH_CODES
    )
    return SendFailed(detail, code=code, retryable=transient)


def scrub(text: str, token: str) -> str:
    """``text`` without the access token, cut to a length a log line can carry."""
    if token:
        text = text.replace(token, "[redacted]")
    return cut(text, _MAX_DETAIL)


def access_token(settings: Mapping[str, Any]) -> str:
    """The account's Graph access token, or a final :class:`SendFailed`."""
    token = settings.get("access_token")
    if not isinstance(token, str) or not token:
        raise SendFailed("channel account has no access_token", code="NO_TOKEN", retryable=False)
    return token


_Part = TypeVar("_Part")


class GraphSender:
    """What the WhatsApp and Instagram senders share: one Graph client, and a
    message that goes out as parts (text, then an image) of which only the first
    decides the send. A failed follow-up is logged and the first id returned:
    failing the whole send would make the worker repeat what the guest has."""

    name = "graph"

    def __init__(
        self,
        base_url: str,
        version: str,
        *,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._graph = GraphClient(base_url, version, timeout_s=timeout_s, client=client)

    def close(self) -> None:
        self._graph.close()

    def _send_parts(self, parts: Sequence[_Part], post: Callable[[_Part], str]) -> SendResult:
        first = post(parts[0])
        for part in parts[1:]:
            try:
                post(part)
            except SendFailed as exc:
                log.warning(
                    "%s: follow-up after message %s not sent (code=%s): %s",
                    self.name,
                    first,
                    exc.code,
                    exc.detail,
                )
        return SendResult(first)
