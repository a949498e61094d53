"""SMS through Twilio Programmable Messaging, outbound: the REST sender.

Replies never ride on the webhook answer: the delivery worker sends them
through :class:`TwilioSender`, so the webhook stays fast and a reply that fails
can be retried.
"""

from __future__ import annotations

import base64
from typing import Any, Final
from urllib.parse import quote

import httpx

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

MAX_BODY_CHARS: Final = 1600  # Twilio refuses longer bodies (error 21617)
ELLIPSIS: Final = "…"


# --- outbound ------------------------------------------------------------------------


def sms_body(message: OutboundMessage) -> str:
    """The text an SMS carries for ``message``.

    SMS has no buttons or lists, so choices become numbered lines (the gateway
    maps a "2" back). An image goes as its URL on its own line (after its
    caption), never as MMS media. Attachments (an ``.ics``) cannot travel by
    SMS and are left out. The result fits Twilio's 1600-character limit:
    longer text is cut with an ellipsis, keeping the image link whole.
    Twilio counts characters beyond the basic plane (emoji) as more than one,
    so length is measured in UTF-16 code units, which never undercounts.
    """
    text = message.numbered_text()
    extra: list[str] = []
    if message.image is not None and message.image.url:
        if message.image.caption:
            extra.append(message.image.caption)
        extra.append(message.image.url)
    tail = "\n".join(extra)
    if not tail:
        return _fit(text, MAX_BODY_CHARS)
    if not text:
        return _fit(tail, MAX_BODY_CHARS)
    room = MAX_BODY_CHARS - _units(tail) - 1  # one for the newline
    if room < 2:  # not even one character and the ellipsis: cut the whole
        return _fit(f"{text}\n{tail}", MAX_BODY_CHARS)
    return f"{_fit(text, room)}\n{tail}"


def _units(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _fit(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` UTF-16 units, else a prefix plus "…",
    cut at a space when one is near so a word is not chopped."""
    if _units(text) <= limit:
        return text
    room = limit - _units(ELLIPSIS)
    kept: list[str] = []
    used = 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > room:
            break
        kept.append(char)
        used += size
    prefix = "".join(kept)
    space = max(prefix.rfind(" "), prefix.rfind("\n"))
    if space >= len(prefix) - 40 and space > 0:
        prefix = prefix[:space]
    return prefix.rstrip() + ELLIPSIS


class TwilioSender:
    """Sends SMS through Twilio's Messages REST API (the ``Sender`` for ``sms``).

    One account (SID and auth token) sends for every restaurant; a restaurant's
    :class:`ChannelAccount` says which number (``address``) or Messaging Service
    (``settings["messaging_service_sid"]``) it sends from. Failures come back as
    :class:`SendFailed`: retryable for 5xx, 429, timeouts and connection errors,
    final for the other 4xx with Twilio's error code (``21211``: not a valid
    ``To`` number). The auth token never appears in an exception, URL or repr,
    and httpx's own exceptions are not chained (their request carries the
    ``Authorization`` header).
    """

    channel: ChannelName = "sms"

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("a Twilio account SID and auth token are required")
        self._url = (
            f"{base_url.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid, safe='')}"
            "/Messages.json"
        )
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        # What must never be shown: the token, and the Authorization value it makes.
        self._secrets = (
            auth_token,
            base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii"),
        )
        self._timeout = timeout_s
        self._owns_client = client is None
        self._client = httpx.Client(timeout=timeout_s) if client is None else client

    def __repr__(self) -> str:
        return f"TwilioSender(url={self._url!r})"

    def close(self) -> None:
        """Close the HTTP client this sender made (a client passed in is the caller's)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> TwilioSender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def form(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> dict[str, str]:
        """The form fields of the Messages API call, in the order they are sent."""
        fields = {"To": to}
        service = account.settings.get("messaging_service_sid")
        if service:
            fields["MessagingServiceSid"] = str(service)
        else:
            fields["From"] = account.address
        fields["Body"] = sms_body(message)
        if context.status_callback_url:
            fields["StatusCallback"] = context.status_callback_url
        return fields

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        fields = self.form(account, to, message, context)
        if not fields["Body"].strip():
            # Twilio would refuse it (21602); nothing an SMS can carry is in it.
            raise SendFailed("nothing to send by SMS: the message has no text", retryable=False)
        try:
            response = self._client.post(
                self._url,
                data=fields,
                auth=self._auth,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise SendFailed(
                self._scrub(f"Twilio did not answer in {self._timeout:g} s ({type(exc).__name__})"),
                retryable=True,
            ) from None
        except httpx.TransportError as exc:
            raise SendFailed(
                self._scrub(f"Twilio unreachable: {type(exc).__name__}: {exc}"), retryable=True
            ) from None
        except httpx.HTTPError as exc:  # a bad URL or the like: retrying will not help
            raise SendFailed(
                self._scrub(f"Twilio call impossible: {type(exc).__name__}: {exc}"),
                retryable=False,
            ) from None
        return self._result(response)

    def _result(self, response: httpx.Response) -> SendResult:
        status = response.status_code
        doc = _json_object(response)
        if 200 <= status < 300:
            sid = doc.get("sid")
            if isinstance(sid, str) and sid:
                return SendResult(sid)
            # Twilio took the request: a retry could send the SMS twice.
            raise SendFailed(f"Twilio answered {status} without a message sid", retryable=False)
        code = doc.get("code")
        detail = doc.get("message")
        raise SendFailed(
            self._scrub(
                f"Twilio answered {status}: {detail}"
                if isinstance(detail, str) and detail
                else f"Twilio answered {status}"
            ),
            code=None if code is None or isinstance(code, bool) else str(code),
            retryable=status >= 500 or status == 429,
        )

    def _scrub(self, text: str) -> str:
        """The text with the auth token (were it ever echoed back) masked."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
