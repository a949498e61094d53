"""What the notification-preference, channel-account and conversation routes answer
(see :mod:`saveit.api.responses`)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from saveit.admin.fields import IsoInstant
from saveit.api.responses import Out


class GuestChannels(Out):
    channels: list[str] | None = Field(description="null: the default channels")
    default: bool


class AccountSettings(Out):
    """Plain settings as given; a secret shows only as ``"set"``."""

    model_config = ConfigDict(extra="allow")

    access_token: Literal["set"] | None = None
    messaging_service_sid: str | None = None
    template_language: str | None = None
    template_name: str | None = None


class AccountVerification(Out):
    """Proven (``by``, ``at``), or pending with what would prove it (``needs``)."""

    state: Literal["proven", "pending"]
    by: str | None = None
    at: IsoInstant | None = None
    needs: Literal["graph", "admin", "code"] | None = None
    code_expires_at: IsoInstant | None = None


class ChannelAccount(Out):
    channel: str
    address: str
    settings: AccountSettings
    verification: AccountVerification


class ChannelAccounts(Out):
    restaurant: str
    channels: list[ChannelAccount]


class Button(Out):
    id: str
    title: str


class Option(Out):
    id: str
    title: str
    description: str | None


class MessageError(Out):
    code: str
    detail: str | None


class Choice(Out):
    """The quick reply a guest tapped."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    title: str | None = None


class Message(Out):
    """Outbound messages carry ``buttons`` and ``options``; a guest's tap, ``choice``."""

    id: str
    direction: Literal["in", "out"]
    channel: str
    author: str | None
    text: str | None
    status: str
    at: IsoInstant
    buttons: list[Button] | None = None
    options: list[Option] | None = None
    choice: Choice | None = None
    error: MessageError | None = None


class Conversation(Out):
    id: int
    guest_id: int
    language: str | None
    handoff: bool
    last_message_at: IsoInstant
    channels: list[str]


class ConversationWithMessages(Conversation):
    messages: list[Message]


class Conversations(Out):
    conversations: list[Conversation]
