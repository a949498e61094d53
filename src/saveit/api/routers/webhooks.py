"""Provider webhooks: verify, parse, store, acknowledge — nothing more.

Each route checks the provider's signature over the raw bytes before anything
is parsed or stored, hands the parsed batch to the gateway (through the
process's :class:`~saveit.channels.intake.Intake`: webhooks arriving together
share one insert transaction), and answers. Answering the guest happens
behind the acknowledgement, in the channel workers, so a provider never waits
on the bot and never retries because we were slow.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from saveit.api.deps import ContainerDep
from saveit.channels import instagram, meta, twilio_sms, whatsapp
from saveit.channels.gateway import Gateway
from saveit.channels.intake import Intake
from saveit.domain import errors
from saveit.domain.channel_ports import MalformedPayload, SignatureInvalid
from saveit.domain.messages import WebhookBatch
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


def _handshake(request: Request, container: Any) -> PlainTextResponse:
    token = container.settings.meta_verify_token
    try:
        challenge = meta.handshake(
            dict(request.query_params), None if token is None else token.get_secret_value()
        )
    except SignatureInvalid:
        return PlainTextResponse("verification failed", status_code=403)
    return PlainTextResponse(challenge)


def _count(channel: str, outcome: str, n: int = 1) -> None:
    if n:
        metrics.webhooks.labels(channel, outcome).inc(n)


async def _meta_batch(request: Request, container: Any, parse: Any, channel: str) -> WebhookBatch:
    secret = container.settings.meta_app_secret
    raw = await request.body()
    if secret is None:
        raise errors.Forbidden("Meta webhooks are not configured (SAVEIT_META_APP_SECRET)")
    try:
        meta.verify_signature(
            raw, request.headers.get("x-hub-signature-256"), secret.get_secret_value().encode()
        )
    except SignatureInvalid as exc:
        _count(channel, "bad_signature")
        raise errors.InvalidSignature("X-Hub-Signature-256 does not match the body") from exc
    try:
        batch: WebhookBatch = parse(raw)
    except MalformedPayload as exc:
        _count(channel, "malformed")
        raise errors.MalformedPayload(str(exc)) from exc
    return batch


@router.get("/whatsapp", response_class=PlainTextResponse)
def whatsapp_handshake(request: Request, container: ContainerDep) -> PlainTextResponse:
    return _handshake(request, container)


@router.post("/whatsapp")
async def whatsapp_webhook(request: Request, container: ContainerDep) -> dict[str, int]:
    batch = await _meta_batch(request, container, whatsapp.parse, "whatsapp")
    return await _store(request, _gateway(container), batch, "whatsapp")


@router.get("/instagram", response_class=PlainTextResponse)
def instagram_handshake(request: Request, container: ContainerDep) -> PlainTextResponse:
    return _handshake(request, container)


@router.post("/instagram")
async def instagram_webhook(request: Request, container: ContainerDep) -> dict[str, int]:
    batch = await _meta_batch(request, container, instagram.parse, "instagram")
    return await _store(request, _gateway(container), batch, "instagram")


async def _twilio_params(request: Request, container: Any) -> tuple[list[tuple[str, str]], bytes]:
    settings = container.settings
    raw = await request.body()
    if settings.twilio_auth_token is None:
        raise errors.Forbidden("Twilio webhooks are not configured (SAVEIT_TWILIO_AUTH_TOKEN)")
    try:
        params = twilio_sms.parse_form(raw)
    except MalformedPayload as exc:
        _count("sms", "malformed")
        raise errors.MalformedPayload(str(exc)) from exc
    url = twilio_sms.public_url(str(request.url), settings.public_base_url)
    try:
        twilio_sms.verify_signature(
            url,
            params,
            request.headers.get("x-twilio-signature"),
            settings.twilio_auth_token.get_secret_value(),
        )
    except SignatureInvalid as exc:
        _count("sms", "bad_signature")
        raise errors.InvalidSignature("X-Twilio-Signature does not match the request") from exc
    return params, raw


def _twiml() -> Response:
    return Response(twilio_sms.twiml_empty(), media_type="text/xml")


@router.post("/twilio/sms")
async def twilio_sms_webhook(request: Request, container: ContainerDep) -> Response:
    params, raw = await _twilio_params(request, container)
    gateway = _gateway(container)
    try:
        batch = twilio_sms.parse_inbound(
            params,
            gateway.clock(),
            raw=raw,
            default_region=container.settings.default_phone_region,
        )
    except MalformedPayload as exc:
        _count("sms", "malformed")
        raise errors.MalformedPayload(str(exc)) from exc
    await _store(request, gateway, batch, "sms")
    return _twiml()


@router.post("/twilio/status")
async def twilio_status_webhook(request: Request, container: ContainerDep) -> Response:
    params, _ = await _twilio_params(request, container)
    gateway = _gateway(container)
    try:
        batch = twilio_sms.parse_status(params, gateway.clock())
    except MalformedPayload as exc:
        _count("sms", "malformed")
        raise errors.MalformedPayload(str(exc)) from exc
    await _store(request, gateway, batch, "sms")
    return _twiml()
