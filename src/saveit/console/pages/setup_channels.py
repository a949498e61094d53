"""Setup: the restaurant's accounts on WhatsApp, Instagram, SMS and email.

Each form is the API's own body for that channel
(:mod:`saveit.admin.channel_settings`) and goes through the same service
(:class:`saveit.admin.channel_accounts.ChannelAccounts`) as a manager's ``PUT``:
a claim routes nothing until it is proven, and the page shows the proof's state
as the API does (proven by whom and when, or pending and what would prove it).
Secrets are write-only: the page never puts one in the HTML — not the stored
value, not what was typed when a form is refused — only whether it is set.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Request, Response

from saveit.admin.channel_accounts import ADDRESS_FIELD, Claim
from saveit.admin.channel_settings import ACCOUNT_BODIES, SECRETS, Proof
from saveit.console.pages.setup import save, show
from saveit.console.problems import said
from saveit.console.session import AtRestaurant, Form, ManagerAt, PageError, services_of
from saveit.console.setup_forms import Refused, build, refusal, text_or_none
from saveit.domain import errors
from saveit.domain.messages import ChannelName

router = APIRouter(prefix="/console/r/{slug}/setup/channels", include_in_schema=False)

CHANNELS = tuple(ACCOUNT_BODIES)
# What would prove a pending claim (as the API's ``verification.needs`` says).
NEEDS = {"whatsapp": "graph", "instagram": "graph", "sms": "admin", "email": "code"}


def _view(claim: Claim) -> dict[str, Any]:
    """A claim as the page may show it: settings without their secrets."""
    secret_names = set(claim.secret_names) | set(SECRETS.get(claim.account.channel, ()))
    settings = {
        k: v
        for k, v in sorted(claim.account.settings.items())
        if k not in secret_names and k not in claim.secret_names
    }
    return {
        "address": claim.account.address,
        "settings": settings,
        "secrets": {name: name in claim.secret_names for name in sorted(secret_names)},
        "proven": claim.proven,
        "proven_by": claim.proven_by,
        "proven_at": claim.proven_at,
        "needs": NEEDS[claim.account.channel],
        "code_expires_at": claim.code_expires_at,
    }


def _context(request: Request, at: AtRestaurant) -> dict[str, Any]:
    shared = {
        "channels": CHANNELS,
        "secrets": SECRETS,
        "fields": {c: tuple(m.model_fields) for c, m in ACCOUNT_BODIES.items()},
        "address_fields": ADDRESS_FIELD,
    }
    try:
        claims = services_of(request).accounts.listed(at.slug)
    except errors.NotFound:  # channels are not enabled on this deployment
        return {"enabled": False, "accounts": {}, **shared}
    return {"enabled": True, "accounts": {c.account.channel: _view(c) for c in claims}, **shared}


def _channel(name: str) -> ChannelName:
    if name not in ACCOUNT_BODIES:
        raise PageError(404, "error.404")
    return cast(ChannelName, name)


@router.get("")
def channels_page(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "channels", **_context(request, at))


def _on_address(channel: str, exc: errors.DomainError, lang: str) -> Refused:
    """A refused phone number or email is the address field's problem."""
    if exc.data.get("field") in ("phone", "email"):
        return Refused({ADDRESS_FIELD[channel]: said(lang, exc)})
    return refusal(exc, lang)


def _fields_of(channel: str) -> tuple[str, ...]:
    return (*ACCOUNT_BODIES[channel].model_fields, "code")


def _withheld(form: Form, channel: str) -> dict[str, str]:
    """The form as typed, less its secrets (never sent back to the browser)."""
    return {k: v for k, v in form.items() if k not in SECRETS.get(channel, ())}


@router.post("/{name}")
def claim_account(request: Request, at: ManagerAt, name: str, form: Form) -> Response:
    channel = _channel(name)
    model = ACCOUNT_BODIES[channel]

    def change() -> None:
        values = {k: text_or_none(form, k) for k in model.model_fields}
        body = build(model, {k: v for k, v in values.items() if v is not None})
        try:
            services_of(request).accounts.claim(
                at.slug, channel, body.model_dump(exclude_none=True), admin=False
            )
        except errors.DomainError as exc:
            raise _on_address(channel, exc, at.visit.lang) from None

    return save(
        request,
        at,
        "channels",
        target=f"channel-{channel}",
        form=_withheld(form, channel),
        fields=_fields_of(channel),
        change=change,
        done="setup.channel.claimed",
        context=lambda: _context(request, at),
    )


@router.post("/{name}/verify")
def verify_account(request: Request, at: ManagerAt, name: str, form: Form) -> Response:
    channel = _channel(name)

    def change() -> None:
        proof = build(Proof, {"code": text_or_none(form, "code")})
        services_of(request).accounts.verify(at.slug, channel, proof.code, admin=False)

    return save(
        request,
        at,
        "channels",
        target=f"verify-{channel}",
        form=form,
        fields=("code",),
        change=change,
        done="setup.channel.checked",
        context=lambda: _context(request, at),
    )


@router.post("/{name}/remove")
def remove_account(request: Request, at: ManagerAt, name: str, form: Form) -> Response:
    channel = _channel(name)
    return save(
        request,
        at,
        "channels",
        target=f"verify-{channel}",
        form={},
        fields=(),
        change=lambda: services_of(request).accounts.remove(at.slug, channel),
        done="setup.removed",
        context=lambda: _context(request, at),
    )
