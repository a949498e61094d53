"""Provider webhooks: verify, parse, store, acknowledge — nothing more.

The routes are generated from :mod:`saveit.channels.registry`: every
connector's webhooks get a POST route (and a GET one when the provider has a
subscription handshake) at ``/webhooks{path}``, so a new provider needs no
edit here. Each route checks the provider's signature over the raw bytes before anything
is parsed or stored, hands the parsed batch to the gateway (through the
process's :class:`~saveit.messaging.intake.Intake`: webhooks arriving together
share one insert transaction), and answers. Answering the guest happens
behind the acknowledgement, in the channel workers, so a provider never waits
on the bot and never retries because we were slow.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute

from saveit.api.deps import ContainerDep
from saveit.channels import registry
from saveit.channels.connector import Webhook
from saveit.config import Settings
from saveit.domain import errors
from saveit.domain.channel_ports import MalformedPayload, SignatureInvalid
from saveit.domain.messages import WebhookBatch
from saveit.messaging.gateway import Gateway
from saveit.messaging.intake import Intake
from saveit.observe import metrics
from saveit.observe.context import carrier

router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=True)
log = logging.getLogger("saveit.webhooks")


def _gateway(container: Any) -> Gateway:
    gateway: Gateway = container.gateway
    return gateway


async def _store(
    request: Request, gateway: Gateway, batch: WebhookBatch, channel: str
) -> dict[str, int]:
    batch.meta = carrier()  # the worker that answers resumes this request's id and trace
    state = request.app.state
    intake: Intake | None = getattr(state, "intake", None)
    if intake is None:  # one per app, made on its event loop
        intake = state.intake = Intake(gateway.receive_many)
    receipt = await intake.receive(batch)
    _count(channel, "stored", len(receipt.stored))
    _count(channel, "duplicate", receipt.duplicates)
    _count(channel, "unrouted", receipt.unrouted)
    return {
        "stored": len(receipt.stored),
        "duplicates": receipt.duplicates,
        "statuses": receipt.statuses,
        "ignored": len(receipt.ignored),
    }


def _count(channel: str, outcome: str, n: int = 1) -> None:
    if n:
        metrics.webhooks.labels(channel, outcome).inc(n)


async def _receive(request: Request, container: Any, hook: Webhook) -> dict[str, int]:
    raw = await request.body()
    settings = container.settings
    try:
        verified = hook.verify(raw, request, settings)
        gateway = _gateway(container)
        batch = hook.batch(verified, gateway.clock, settings)
    except SignatureInvalid as exc:
        _count(hook.channel, "bad_signature")
        raise errors.InvalidSignature(hook.signature_error) from exc
    except MalformedPayload as exc:
        _count(hook.channel, "malformed")
        raise errors.MalformedPayload(str(exc)) from exc
    return await _store(request, gateway, batch, hook.channel)


async def acknowledge(request: Request, container: Any, hook: Webhook) -> Response:
    """Verify, parse and store one provider webhook; the answer the provider gets
    (the counts of what was stored as JSON, or the connector's fixed body). Raises
    the errors the app's problem handlers answer (bad signature, malformed body,
    database away). The routed endpoints and :mod:`saveit.api.webhook_lane` both
    answer through it."""
    counts = await _receive(request, container, hook)
    if hook.ack is None:
        return JSONResponse(counts)
    body, media_type = hook.ack
    return Response(body, media_type=media_type)


def post_routes() -> dict[str, tuple[Webhook, APIRoute]]:
    """Every webhook's POST route by its full path, with its connector's webhook."""
    hooks = {hook.name: hook for hook in registry.webhooks()}
    return {
        route.path: (hooks[route.name], route)
        for route in router.routes
        if isinstance(route, APIRoute) and route.name in hooks and "POST" in (route.methods or ())
    }


def _counted(hook: Webhook) -> Callable[..., Awaitable[dict[str, int]]]:
    async def endpoint(request: Request, container: ContainerDep) -> dict[str, int]:
        return await _receive(request, container, hook)

    return endpoint


def _acknowledged(hook: Webhook) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, container: ContainerDep) -> Response:
        return await acknowledge(request, container, hook)

    return endpoint


def _handshake(
    answer: Callable[[Mapping[str, str], Settings], str],
) -> Callable[..., PlainTextResponse]:
    def endpoint(request: Request, container: ContainerDep) -> PlainTextResponse:
        try:
            challenge = answer(request.query_params, container.settings)
        except SignatureInvalid:
            return PlainTextResponse("verification failed", status_code=403)
        return PlainTextResponse(challenge)

    return endpoint


for _hook in registry.webhooks():
    if _hook.handshake is not None:
        router.add_api_route(
            _hook.path,
            _handshake(_hook.handshake),
            methods=["GET"],
            name=_hook.handshake_name,
            response_class=PlainTextResponse,
        )
    router.add_api_route(
        _hook.path,
        _counted(_hook) if _hook.ack is None else _acknowledged(_hook),
        methods=["POST"],
        name=_hook.name,
    )
