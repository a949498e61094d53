"""A restaurant's channel accounts (managers) and its guest conversations (staff).

Secrets (access tokens) go in through ``PUT`` and never come back out: reads
show only which settings are set (they are sealed at rest). A claimed address
routes nothing until it is proven (:mod:`saveit.messaging.account_proof`).
Staff replies are queued like the bot's and go out on the guest's own channel
(the one they last wrote from, unless named).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel

from saveit.admin.channel_accounts import Claim
from saveit.admin.channel_settings import ACCOUNT_BODIES as _BODIES
from saveit.admin.channel_settings import Proof
from saveit.admin.inbox import ConversationView, StoredMessage
from saveit.api.auth import HostOf, ManagerOf
from saveit.api.channel_responses import (
    AccountSettings,
    AccountVerification,
    Button,
    ChannelAccount,
    ChannelAccounts,
    Conversation,
    Conversations,
    ConversationWithMessages,
    Message,
    MessageError,
    Option,
)
from saveit.api.deps import Services
from saveit.api.ids import MAX_ID, RowId
from saveit.api.responses import iso_or_none
from saveit.api.schemas import Body as StrictBody
from saveit.api.schemas import text
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.messages import ChannelName, OutboundMessage

router = APIRouter(prefix="/v1/restaurants/{slug}", tags=["channels"])

Configurable = Literal["whatsapp", "instagram", "sms", "email"]


def account_json(claim: Claim) -> ChannelAccount:
    account = claim.account
    settings: dict[str, Any] = dict(account.settings)
    settings.update({name: "set" for name in claim.secret_names})
    return ChannelAccount(
        channel=account.channel,
        address=account.address,
        settings=AccountSettings(**dict(sorted(settings.items()))),
        verification=verification_json(claim),
    )


def verification_json(claim: Claim) -> AccountVerification:
    """Whether the account routes yet, and what would prove it if not."""
    if claim.proven:
        return AccountVerification(
            state="proven", by=claim.proven_by, at=iso_or_none(claim.proven_at)
        )
    channel = claim.account.channel
    needs = {"whatsapp": "graph", "instagram": "graph", "sms": "admin"}.get(channel, "code")
    doc = AccountVerification(state="pending", needs=needs)
    if needs == "code":
        doc.code_expires_at = iso_or_none(claim.code_expires_at)
    return doc


_ACCOUNT = {"response_model": ChannelAccount, "response_model_exclude_unset": True}


@router.get("/channels", response_model_exclude_unset=True)
def list_channels(slug: str, actor: ManagerOf, services: Services) -> ChannelAccounts:
    found = services.accounts.listed(slug)
    return ChannelAccounts(restaurant=slug, channels=[account_json(a) for a in found])


def _claim_route(channel: Configurable, model: type[BaseModel]) -> None:
    """One ``PUT`` per channel, so each documents (and checks) its own body."""

    def endpoint(
        slug: str,
        actor: ManagerOf,
        services: Services,
        body: BaseModel,
        response: Response,
    ) -> ChannelAccount:
        return put_channel(slug, channel, actor, services, body, response)

    endpoint.__annotations__["body"] = Annotated[model, Body()]  # this channel's own body
    endpoint.__name__ = f"put_{channel}_channel"
    endpoint.__doc__ = put_channel.__doc__
    router.add_api_route(
        f"/channels/{channel}",
        endpoint,
        methods=["PUT"],
        name=endpoint.__name__,
        **_ACCOUNT,  # type: ignore[arg-type]
    )


def put_channel(
    slug: str,
    channel: Configurable,
    actor: Actor,
    services: Services,
    body: BaseModel,
    response: Response,
) -> ChannelAccount:
    """Claim an address. It routes once proven: at once for the admin token and for a
    WhatsApp or Instagram id the Graph API confirms (200); otherwise it waits (202)
    for ``POST …/verify``. Any refusal over who holds an address is a plain 409."""
    fields = body.model_dump(exclude_none=True)
    claim = services.accounts.claim(slug, channel, fields, admin=actor.kind == "admin")
    response.status_code = 200 if claim.proven else 202
    return account_json(claim)


for _channel, _model in _BODIES.items():
    _claim_route(cast(Configurable, _channel), _model)


@router.put("/channels/{channel}", include_in_schema=False, **_ACCOUNT)  # type: ignore[arg-type]
def put_unknown_channel(slug: str, channel: Configurable, actor: ManagerOf) -> None:
    """Reached only by a channel without a route above: the path check refuses it."""
    raise errors.NotFound(f"No channel '{channel}'")


@router.post("/channels/{channel}/verify", **_ACCOUNT)  # type: ignore[arg-type]
def verify_channel(
    slug: str,
    channel: Configurable,
    actor: ManagerOf,
    services: Services,
    body: Proof | None = None,
) -> ChannelAccount:
    """Prove a claim: the admin token approves it; WhatsApp and Instagram ask the Graph
    API again (a refusal makes a proven account pending); email takes the 6-digit
    code sent to the address, or without one sends a fresh code."""
    code = None if body is None else body.code
    return account_json(services.accounts.verify(slug, channel, code, admin=actor.kind == "admin"))


@router.delete("/channels/{channel}", status_code=204)
def delete_channel(
    slug: str, channel: Configurable, actor: ManagerOf, services: Services
) -> Response:
    services.accounts.remove(slug, channel)
    return Response(status_code=204)


def message_json(message: StoredMessage) -> Message:
    doc = Message(
        id=message.public_id,
        direction=message.direction,
        channel=message.channel,
        author=message.author,
        text=message.text,
        status=message.status,
        at=message.created_at.isoformat(),
    )
    if message.direction == "out":
        out = message.outbound
        doc.text = out.text
        doc.buttons = [Button(id=b.id, title=b.title) for b in out.buttons]
        doc.options = [
            Option(id=o.id, title=o.title, description=o.description) for o in out.options
        ]
    elif message.body.get("choice"):
        doc.choice = message.body["choice"]
    if message.error_code:
        doc.error = MessageError(code=message.error_code, detail=message.error_detail)
    return doc


def _conversation_json(view: ConversationView) -> Conversation:
    conversation = view.conversation
    return Conversation(
        id=conversation.id,
        guest_id=conversation.guest_id,
        language=conversation.language,
        handoff=conversation.handoff,
        last_message_at=conversation.last_message_at.isoformat(),
        channels=view.channels,
    )


@router.get("/conversations")
def list_conversations(
    slug: str,
    actor: HostOf,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Conversations:
    found = services.inbox.listed(slug, limit=limit)
    return Conversations(conversations=[_conversation_json(c) for c in found])


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationWithMessages,
    response_model_exclude_unset=True,
)
def get_conversation(
    slug: str,
    conversation_id: RowId,
    actor: HostOf,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> ConversationWithMessages:
    view = services.inbox.conversation(slug, conversation_id, limit=limit, before=before)
    messages = [message_json(m) for m in view.messages or ()]
    return ConversationWithMessages(**dict(_conversation_json(view)), messages=messages)


class StaffReply(StrictBody):
    text: Annotated[str, text(4000, min_length=1)]
    channel: ChannelName | None = None


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=202,
    response_model=Message,
    response_model_exclude_unset=True,
)
def reply(
    slug: str, conversation_id: RowId, body: StaffReply, actor: HostOf, services: Services
) -> Message:
    queued = services.inbox.reply(
        slug,
        conversation_id,
        OutboundMessage(text=body.text, sender=actor.display),
        author=f"staff:{actor.name}"[:64],
        channel=body.channel,
    )
    return message_json(queued)


class Handoff(StrictBody):
    active: bool


@router.put("/conversations/{conversation_id}/handoff")
def handoff(
    slug: str, conversation_id: RowId, body: Handoff, actor: HostOf, services: Services
) -> Conversation:
    """Staff take a conversation over (the bot stays quiet) or hand it back."""
    view = services.inbox.hand_off(slug, conversation_id, active=body.active, by=actor.name)
    return _conversation_json(view)
