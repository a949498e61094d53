"""Twilio's two webhooks as the registry declares them: inbound messages and
status callbacks, both signed the same way (the form, the public URL, the
auth token), both answered with an empty TwiML document."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from saveit.channels.connector import Webhook, WebhookRequest
from saveit.channels.sms.inbound import (
    SIGNATURE_HEADER,
    TWIML_CONTENT_TYPE,
    parse_form,
    parse_inbound,
    parse_status,
    public_url,
    twiml_empty,
    verify_signature,
)
from saveit.config import Settings
from saveit.domain import errors
from saveit.domain.messages import WebhookBatch


def _verified_form(
    raw: bytes, request: WebhookRequest, settings: Settings
) -> tuple[list[tuple[str, str]], bytes]:
    token = settings.twilio_auth_token
    if token is None:
        raise errors.Forbidden("Twilio webhooks are not configured (SAVEIT_TWILIO_AUTH_TOKEN)")
    params = parse_form(raw)
    url = public_url(str(request.url), settings.public_base_url)
    verify_signature(
        url, params, request.headers.get("x-twilio-signature"), token.get_secret_value()
    )
    return params, raw


def _messages(
    verified: tuple[list[tuple[str, str]], bytes],
    clock: Callable[[], datetime],
    settings: Settings,
) -> WebhookBatch:
    params, raw = verified
    return parse_inbound(params, clock(), raw=raw, default_region=settings.default_phone_region)


def _statuses(
    verified: tuple[list[tuple[str, str]], bytes],
    clock: Callable[[], datetime],
    settings: Settings,
) -> WebhookBatch:
    return parse_status(verified[0], clock())


_SIGNATURE_ERROR = f"{SIGNATURE_HEADER} does not match the request"
_ACK = (twiml_empty(), TWIML_CONTENT_TYPE)

MESSAGES = Webhook(
    path="/twilio/sms",
    name="twilio_sms_webhook",
    channel="sms",
    verify=_verified_form,
    batch=_messages,
    signature_error=_SIGNATURE_ERROR,
    ack=_ACK,
)
STATUSES = Webhook(
    path="/twilio/status",
    name="twilio_status_webhook",
    channel="sms",
    verify=_verified_form,
    batch=_statuses,
    signature_error=_SIGNATURE_ERROR,
    ack=_ACK,
)
