"""What the gateway asks of a provider adapter, and what an adapter may answer.

Inbound, each provider module offers plain functions (verify, parse) that the
webhook routes call; outbound, each offers a :class:`Sender`, registered by
channel name in :mod:`saveit.channels.registry`. Senders are synchronous and
run on the delivery worker's thread, never on the inbound path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from saveit.domain.messages import ChannelName, OutboundMessage


class SignatureInvalid(Exception):
    """The request is not signed by the provider: answer 401/403, store nothing."""


class MalformedPayload(ValueError):
    """The body cannot be read as this provider's format: answer 400, store nothing."""


class SendFailed(Exception):
    """A send did not go through. ``retryable`` sends are tried again with backoff
    (5xx, timeouts, connection errors); the others fail at once (4xx, a closed
    24-hour window, a blocked number) into the visible ``failed`` state."""

    def __init__(self, detail: str, *, code: str | None = None, retryable: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ChannelAccount:
    """One restaurant's account on one channel (the admin API's ``channels/{name}``).

    ``address`` is what inbound messages are routed by (phone number id, IG
    account id, SMS number, email address); ``settings`` holds the rest,
    secrets included (access tokens): never logged, never returned by the API.
    """

    restaurant_id: int
    channel: ChannelName
    address: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendContext:
    """What a sender needs beyond the message itself.

    ``window_open`` is False when the guest last wrote on this channel more than
    24 hours ago (WhatsApp, Instagram): only an approved template may go out.
    ``message_id`` is our own id for the message (the email ``Message-ID`` is
    built from it); ``in_reply_to``/``references`` thread an email reply.
    """

    message_id: str
    language: str = "es"
    restaurant_name: str = ""
    window_open: bool = True
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    status_callback_url: str | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider's id for the sent message (statuses refer to it)."""

    provider_message_id: str


class Sender(Protocol):
    channel: ChannelName

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult: ...
