"""Meta's Graph API, outbound: one client for WhatsApp and Instagram that turns
every failure into a :class:`~saveit.domain.channel_ports.SendFailed`.

* The delivery worker retries what may succeed later (5xx, 429, timeouts, lost
  connections, Graph's own rate-limit and "temporary" codes) and fails the rest
  at once with the Graph error code, so a closed 24-hour window (131047) or an
  expired token (190) is visible instead of retried for hours.
* The access token travels only in the ``Authorization`` header and is scrubbed
  from every error text we build: exceptions end up in logs and the admin UI.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from saveit.channels.meta.webhook import as_dict, as_str
from saveit.domain.channel_ports import SendFailed, SendResult

log = logging.getLogger(__name__)

ELLIPSIS = "…"
# Graph error codes that mean "not now" rather than "never": rate limits (4,
# 80007, 130429 throughput, 131056 pair rate limit) and temporary or unknown
# service errors (1, 2, 131000, 131016). Meta may answer these with HTTP 400.
_TRANSIENT_GRAPH_CODES = frozenset({"1", "2", "4", "80007", "130429", "131000", "131016", "131056"})
_MAX_DETAIL = 500


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
