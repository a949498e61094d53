"""A restaurant's guest conversations as staff see them: the list, one
conversation's messages, a staff reply, and taking a conversation over.

Staff replies are queued like the bot's and go out on the guest's own channel
(the one they last wrote from, unless named). WhatsApp and Instagram take a
free-form reply only within 24 hours of the guest's last message
(:data:`~saveit.messaging.delivery.WINDOW`); :meth:`StaffInbox.window` says
where a reply would go and whether it can, so the console can say so before
anyone types: after the window WhatsApp carries it in the restaurant's approved
template when one is configured, and otherwise nothing can go out (the API still
queues it, and it fails as ``WINDOW_CLOSED`` for everyone to see).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from saveit.domain import errors
from saveit.domain.messages import ChannelName, OutboundMessage
from saveit.messaging.delivery import WINDOW, WINDOW_CHANNELS
from saveit.messaging.gateway import Gateway
from saveit.store.conversations import Conversation, latest
from saveit.store.inbox_overview import InboxEntry, LastMessage
from saveit.store.messages import StoredMessage
from saveit.store.unit_of_work import Database, Repositories

__all__ = [
    "Conversation",
    "ConversationView",
    "InboxEntry",
    "LastMessage",
    "ReplyWindow",
    "StaffInbox",
    "StoredMessage",
    "WindowClosed",
]

REPLY_MAX = 4000


class WindowClosed(errors.Conflict):
    """The guest's channel takes no free-form message now and has no template."""

    code = "WINDOW_CLOSED"


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    """Where a staff reply would go now, and whether it can go there."""

    channel: str | None  # None: the guest has no channel identity to write to
    open: bool  # a free-form message is allowed
    template: bool  # closed, but the restaurant's approved template carries it
    closes_at: dt.datetime | None  # end of the 24-hour window on such channels

    @property
    def refused(self) -> bool:
        return self.channel is None or not (self.open or self.template)


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: Conversation
    channels: list[str]  # every channel the guest has written from
    messages: list[StoredMessage] | None = None


class StaffInbox:
    def __init__(
        self, db: Database, *, gateway: Gateway | None, clock: Callable[[], dt.datetime]
    ) -> None:
        self.db = db
        self._gateway = gateway
        self.clock = clock

    @staticmethod
    def _view(r: Repositories, conversation: Conversation) -> ConversationView:
        identities = r.conversations.identities_of(conversation.guest_id)
        return ConversationView(conversation, sorted({i.channel for i in identities}))

    @staticmethod
    def _own(r: Repositories, slug: str, conversation_id: int) -> Conversation:
        conversation = r.conversations.conversation(conversation_id)
        if conversation is None or conversation.restaurant_id != r.restaurants.id_of(slug):
            raise errors.NotFound(f"No conversation {conversation_id} at '{slug}'")
        return conversation

    def listed(self, slug: str, *, limit: int) -> list[ConversationView]:
        with self.db.tolerant_reading() as r:  # a list: a replica may serve it
            found = r.conversations.of_restaurant(r.restaurants.id_of(slug), limit=limit)
            return [self._view(r, c) for c in found]

    def conversation(
        self, slug: str, conversation_id: int, *, limit: int, before: int | None
    ) -> ConversationView:
        with self.db.reading() as r:
            conversation = self._own(r, slug, conversation_id)
            view = self._view(r, conversation)
            messages = r.messages.history(conversation.id, limit=limit, before_id=before)
        return ConversationView(view.conversation, view.channels, messages)

    def reply(
        self,
        slug: str,
        conversation_id: int,
        message: OutboundMessage,
        *,
        author: str,
        channel: ChannelName | None,
    ) -> StoredMessage:
        with self.db.reading() as r:
            self._own(r, slug, conversation_id)
        if self._gateway is None:
            raise errors.NotFound("Channels are not enabled")
        return self._gateway.send_to_conversation(
            conversation_id, message, author=author, channel=channel
        )

    def hand_off(
        self, slug: str, conversation_id: int, *, active: bool, by: str
    ) -> ConversationView:
        """Staff take the conversation over (the bot stays quiet) or hand it back."""
        now = self.clock()
        with self.db.unit_of_work() as uow:
            conversation = self._own(uow, slug, conversation_id)
            uow.conversations.hand_off(conversation, active=active, by=by, now=now)
            fresh = uow.conversations.conversation(conversation.id)
            assert fresh is not None
            return self._view(uow, fresh)

    # --- what the staff console adds -------------------------------------------------------

    def overview(self, slug: str, *, limit: int = 50) -> list[InboxEntry]:
        """Conversations handed to a person first, then the newest, with their guests."""
        with self.db.tolerant_reading() as r:
            return r.inbox_overview.overview(r.restaurants.id_of(slug), limit=limit)

    def timezone(self, slug: str) -> str:
        """The restaurant's time zone: the console shows times as the staff live them."""
        with self.db.tolerant_reading() as r:
            return r.restaurants.profile(slug).timezone

    def entry(self, slug: str, conversation_id: int) -> InboxEntry:
        with self.db.reading() as r:
            conversation = self._own(r, slug, conversation_id)
            found = r.inbox_overview.overview(
                conversation.restaurant_id, limit=1, guest_id=conversation.guest_id
            )
        if not found:
            raise errors.NotFound(f"No conversation {conversation_id} at '{slug}'")
        return found[0]

    def window(self, slug: str, conversation_id: int) -> ReplyWindow:
        now = self.clock()
        with self.db.reading() as r:
            conversation = self._own(r, slug, conversation_id)
            identities = r.conversations.identities_of(conversation.guest_id)
            if not identities:
                return ReplyWindow(None, False, False, None)
            identity = latest(identities)
            if identity.channel not in WINDOW_CHANNELS:
                return ReplyWindow(identity.channel, True, False, None)
            last = identity.last_inbound_at
            closes = None if last is None else last + WINDOW
            is_open = closes is not None and now < closes
            template = False
            if not is_open and identity.channel == "whatsapp":
                account = r.accounts.find(conversation.restaurant_id, "whatsapp")
                template = account is not None and bool(account.settings.get("template_name"))
            return ReplyWindow(identity.channel, is_open, template, closes)

    def staff_reply(
        self, slug: str, conversation_id: int, text: str, *, author: str, sender: str
    ) -> StoredMessage:
        """A person's reply, refused up front when its channel cannot carry it now."""
        text = text.strip()
        if not text:
            raise errors.ValidationFailed("Write a message first", field="text")
        if len(text) > REPLY_MAX:
            raise errors.ValidationFailed(
                f"A message holds at most {REPLY_MAX} characters", field="text"
            )
        window = self.window(slug, conversation_id)
        if window.channel is None:
            raise errors.Conflict("The guest has no channel to write to", field="text")
        if window.refused:
            raise WindowClosed(
                f"The guest last wrote on {window.channel} more than 24 hours ago: "
                "no free-form message can go out there until they write again, and no "
                "approved template is configured",
                field="text",
                channel=window.channel,
            )
        return self.reply(
            slug,
            conversation_id,
            OutboundMessage(text=text, sender=sender),
            author=f"staff:{author}"[:64],
            channel=None,
        )
