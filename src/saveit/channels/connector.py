"""What a channel connector declares, so the rest of the system needs no
per-provider wiring: its name, the sender it builds from settings, and its
webhooks (the HTTP routes under ``/webhooks`` are generated from these by
:mod:`saveit.api.routers.webhooks`).

A webhook is two steps because the providers need them in that order:
``verify`` proves the request came from the provider (over the raw bytes,
before anything is parsed or stored) and reads what it can without the
gateway; ``batch`` finishes the reading with the gateway's clock. Both raise
:class:`~saveit.domain.channel_ports.SignatureInvalid` or
:class:`~saveit.domain.channel_ports.MalformedPayload`, which the route
counts and answers the same way for every provider; a provider that is not
configured raises :class:`~saveit.domain.errors.Forbidden` itself. Nothing
here imports a web framework: ``request`` is anything with ``headers`` and
``url``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from saveit.config import Settings
from saveit.domain.channel_ports import Sender
from saveit.domain.messages import ChannelName, WebhookBatch


class WebhookRequest(Protocol):
    """The parts of an HTTP request a provider's check may read."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def url(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Webhook:
    """One provider endpoint at ``/webhooks{path}`` (POST; GET too with a handshake).

    ``name`` names the POST route (its OpenAPI operation id and summary);
    ``ack`` is a fixed answer body and media type, or None to answer the
    counts of what was stored as JSON.
    """

    path: str
    name: str
    channel: ChannelName
    verify: Callable[[bytes, WebhookRequest, Settings], Any]
    batch: Callable[[Any, Callable[[], datetime], Settings], WebhookBatch]
    signature_error: str
    ack: tuple[str, str] | None = None
    handshake: Callable[[Mapping[str, str], Settings], str] | None = None
    handshake_name: str = ""


@dataclass(frozen=True, slots=True)
class Connector:
    """One provider: its channel name, its sender (None when the deployment has
    not configured the provider: its queued messages then fail visibly as
    ``NOT_CONFIGURED``), and its webhooks."""

    name: ChannelName
    sender: Callable[[Settings], Sender | None]
    webhooks: tuple[Webhook, ...] = ()


def passed_through(verified: Any, clock: Callable[[], datetime], settings: Settings) -> Any:
    """``batch`` for a provider whose ``verify`` already read the whole batch."""
    return verified
