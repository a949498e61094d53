"""A restaurant's guest conversations as staff see them: the list, one
conversation's messages, a staff reply, and taking a conversation over.

Staff replies are queued like the bot's and go out on the guest's own channel
(the one they last wrote from, unless named).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from saveit.domain import errors
from saveit.domain.messages import ChannelName, OutboundMessage
from saveit.messaging.gateway import Gateway
from saveit.store.conversations import Conversation
from saveit.store.messages import StoredMessage
from saveit.store.unit_of_work import Database, Repositories

__all__ = ["Conversation", "ConversationView", "StaffInbox", "StoredMessage"]


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
