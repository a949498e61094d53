"""A restaurant's channel accounts (managers) and its guest conversations (staff).

Secrets (access tokens) go in through ``PUT`` and never come back out: reads
show only which settings are set. Staff replies are queued like the bot's and
go out on the guest's own channel (the one they last wrote from, unless named).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import Field

from saveit.api.auth import HostOf, ManagerOf
from saveit.api.deps import ContainerDep
from saveit.api.schemas import Body as StrictBody
from saveit.channels.gateway import Gateway
from saveit.channels.model import ChannelName, OutboundMessage
from saveit.channels.ports import ChannelAccount
from saveit.domain import errors
from saveit.store import channel_accounts as accounts
from saveit.store import conversations as convs
from saveit.store import guests as guest_store
from saveit.store import messages as store
from saveit.store import restaurants as restaurant_store

router = APIRouter(prefix="/v1/restaurants/{slug}", tags=["channels"])

Secret = Annotated[str, Field(min_length=1, max_length=1000)]
SECRET_KEYS = frozenset({"access_token"})


class WhatsAppAccount(StrictBody):
    phone_number_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\d+$")]
    access_token: Secret
    template_name: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    template_language: Annotated[str, Field(min_length=2, max_length=16)] | None = None


class InstagramAccount(StrictBody):
    account_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\d+$")]
    access_token: Secret


class SmsAccount(StrictBody):
    number: Annotated[str, Field(min_length=3, max_length=32)]
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None


class EmailAccount(StrictBody):
    address: Annotated[str, Field(min_length=3, max_length=254)]


_BODIES: dict[str, type[StrictBody]] = {
    "whatsapp": WhatsAppAccount,
    "instagram": InstagramAccount,
    "sms": SmsAccount,
    "email": EmailAccount,
}
Configurable = Literal["whatsapp", "instagram", "sms", "email"]


def account_json(account: ChannelAccount) -> dict[str, Any]:
    return {
        "channel": account.channel,
        "address": account.address,
        "settings": {
            key: ("set" if key in SECRET_KEYS else value)
            for key, value in sorted(account.settings.items())
        },
    }


def _split(channel: str, raw: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
    body = _BODIES[channel].model_validate(raw)
    fields = body.model_dump(exclude_none=True)
    if isinstance(body, WhatsAppAccount):
        return fields.pop("phone_number_id"), fields
    if isinstance(body, InstagramAccount):
        return fields.pop("account_id"), fields
    if isinstance(body, SmsAccount):
        return guest_store.normalise_phone(fields.pop("number"), region), fields
    return guest_store.normalise_email(fields.pop("address")).lower(), fields


@router.get("/channels")
def list_channels(slug: str, actor: ManagerOf, container: ContainerDep) -> dict[str, Any]:
    with container.booking.reading() as conn:
        restaurant_id = restaurant_store.id_of(conn, slug)
        found = accounts.of_restaurant(conn, restaurant_id)
    return {"restaurant": slug, "channels": [account_json(a) for a in found]}


@router.put("/channels/{channel}")
def put_channel(
    slug: str,
    channel: Configurable,
    actor: ManagerOf,
    container: ContainerDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    address, settings = _split(channel, body, container.settings.default_phone_region)
    with container.engine.begin() as conn:
        restaurant_id = restaurant_store.id_of(conn, slug)
        account = accounts.put(
            conn, restaurant_id, channel, address, settings, container.booking.clock()
        )
    _gateway(container).directory.forget()
    return account_json(account)


@router.delete("/channels/{channel}", status_code=204)
def delete_channel(
    slug: str, channel: Configurable, actor: ManagerOf, container: ContainerDep
) -> Response:
    with container.engine.begin() as conn:
        removed = accounts.remove(conn, restaurant_store.id_of(conn, slug), channel)
    if not removed:
        raise errors.NotFound(f"No {channel} account for '{slug}'")
    _gateway(container).directory.forget()
    return Response(status_code=204)


def _gateway(container: Any) -> Gateway:
    gateway: Gateway | None = container.gateway
    if gateway is None:
        raise errors.NotFound("Channels are not enabled")
    return gateway


def message_json(message: store.StoredMessage) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": message.public_id,
        "direction": message.direction,
        "channel": message.channel,
        "author": message.author,
        "text": message.text,
        "status": message.status,
        "at": message.created_at.isoformat(),
    }
    if message.direction == "out":
        out = message.outbound
        doc["text"] = out.text
        doc["buttons"] = [{"id": b.id, "title": b.title} for b in out.buttons]
        doc["options"] = [
            {"id": o.id, "title": o.title, "description": o.description} for o in out.options
        ]
    elif message.body.get("choice"):
        doc["choice"] = message.body["choice"]
    if message.error_code:
        doc["error"] = {"code": message.error_code, "detail": message.error_detail}
    return doc


def _conversation_json(conn: Any, conversation: convs.Conversation) -> dict[str, Any]:
    identities = convs.identities_of(conn, conversation.guest_id)
    return {
        "id": conversation.id,
        "guest_id": conversation.guest_id,
        "language": conversation.language,
        "handoff": conversation.handoff,
        "last_message_at": conversation.last_message_at.isoformat(),
        "channels": sorted({i.channel for i in identities}),
    }


def _own(conn: Any, slug: str, conversation_id: int) -> convs.Conversation:
    conversation = convs.conversation(conn, conversation_id)
    if conversation is None or conversation.restaurant_id != restaurant_store.id_of(conn, slug):
        raise errors.NotFound(f"No conversation {conversation_id} at '{slug}'")
    return conversation


@router.get("/conversations")
def list_conversations(
    slug: str,
    actor: HostOf,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with container.booking.reading() as conn:
        found = convs.of_restaurant(conn, restaurant_store.id_of(conn, slug), limit=limit)
        return {"conversations": [_conversation_json(conn, c) for c in found]}


@router.get("/conversations/{conversation_id}")
def get_conversation(
    slug: str,
    conversation_id: int,
    actor: HostOf,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    with container.booking.reading() as conn:
        conversation = _own(conn, slug, conversation_id)
        doc = _conversation_json(conn, conversation)
        doc["messages"] = [
            message_json(m)
            for m in store.history(conn, conversation.id, limit=limit, before_id=before)
        ]
    return doc


class StaffReply(StrictBody):
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    channel: ChannelName | None = None


@router.post("/conversations/{conversation_id}/messages", status_code=202)
def reply(
    slug: str, conversation_id: int, body: StaffReply, actor: HostOf, container: ContainerDep
) -> dict[str, Any]:
    with container.booking.reading() as conn:
        _own(conn, slug, conversation_id)
    queued = _gateway(container).send_to_conversation(
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
    slug: str, conversation_id: int, body: Handoff, actor: HostOf, container: ContainerDep
) -> dict[str, Any]:
    """Staff take a conversation over (the bot stays quiet) or hand it back."""
    now = container.booking.clock()
    with container.engine.begin() as conn:
        conversation = _own(conn, slug, conversation_id)
        convs.hand_off(conn, conversation, active=body.active, by=actor.name, now=now)
        fresh = convs.conversation(conn, conversation.id)
        assert fresh is not None
        return _conversation_json(conn, fresh)
