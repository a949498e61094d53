"""One guest's web chat connection: what the widget may see of the conversation
and what it sends, stored through the gateway like any provider's message (the
wire protocol itself is :mod:`saveit.channels.webchat.protocol`)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from saveit.channels.webchat.protocol import (
    CHANNEL,
    HISTORY_LIMIT,
    ProtocolError,
    SendChoice,
    SendText,
    message_frame,
    typing_frame,
    view_of,
)
from saveit.domain import events
from saveit.domain.messages import (
    InboundMessage,
    WebhookBatch,
)
from saveit.messaging.gateway import Gateway
from saveit.store import messages as store

# --- one guest's connection ----------------------------------------------------------


@dataclass(slots=True)
class Received:
    """What storing one guest frame came to."""

    duplicate: bool
    stored_id: int | None = None


@dataclass(slots=True)
class _Seen:
    """Public ids already shown to the widget (history and pushes), bounded."""

    size: int = 2000
    order: deque[str] = field(default_factory=deque)
    ids: set[str] = field(default_factory=set)

    def add(self, public_id: str) -> bool:
        if public_id in self.ids:
            return False
        self.ids.add(public_id)
        self.order.append(public_id)
        if len(self.order) > self.size:
            self.ids.discard(self.order.popleft())
        return True

    def __contains__(self, public_id: object) -> bool:
        return public_id in self.ids


class ChatSession:
    """One connected widget: what it may see and what it sends.

    The methods that touch the database are synchronous and meant to run off
    the event loop (``anyio.to_thread.run_sync``); the reader and the pusher of
    one socket may call them at the same time, so the little state here is
    guarded by a lock.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        restaurant_id: int,
        slug: str,
        identity: str,
        clock: Callable[[], datetime] | None = None,
        client_ip: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.client_ip = client_ip  # stored with each message: the caps on codes see it
        self.restaurant_id = restaurant_id
        self.slug = slug
        self.identity = identity
        self.clock = clock or gateway.clock
        self.conversation_id: int | None = None
        self._pending: dict[str, int] = {}  # our stored, unanswered messages: public id -> row id
        self._seen = _Seen()
        self._lock = threading.Lock()

    # --- connect ----------------------------------------------------------------------

    def history(self, limit: int = HISTORY_LIMIT) -> tuple[list[dict[str, Any]], bool]:
        """The latest messages of the guest's conversation, oldest first, and
        whether the bot is still to answer one of them (the widget shows typing).

        Messages not yet answered may have no conversation yet (the worker
        attaches them), so they are added from the unanswered queue, which is
        small and indexed, rather than lost from a reconnect that follows a send
        at once; they are also what the bot is still to answer.
        """
        with self.gateway.db.reading() as r:
            conversation_id = r.conversations.of_identity(
                self.restaurant_id, CHANNEL, self.identity
            )
            found = (
                r.messages.history(conversation_id, limit=limit)
                if conversation_id is not None
                else []
            )
            unanswered = [
                message
                for row_id in r.messages.unanswered(self.restaurant_id, CHANNEL, self.identity)
                if (message := r.messages.by_id(row_id)) is not None
            ]
        known = {message.id for message in found}
        merged = sorted(
            [*found, *(u for u in unanswered if u.id not in known)], key=lambda s: s.id
        )[-limit:]
        with self._lock:
            if conversation_id is not None:
                self.conversation_id = conversation_id
            for message in merged:
                self._seen.add(message.public_id)
            for message in unanswered:
                self._pending[message.public_id] = message.id
            waiting = bool(self._pending)
        return [view_of(message, self.identity) for message in merged], waiting

    # --- guest -> us ------------------------------------------------------------------

    def receive(self, frame: SendText | SendChoice, raw: str = "") -> Received:
        """Store the guest's message through the gateway (deduplicated by its client id)."""
        text = frame.text if isinstance(frame, SendText) else frame.choice.title
        message = InboundMessage(
            channel=CHANNEL,
            provider_message_id=f"{self.identity}:{frame.id}",
            sender=self.identity,
            recipient=self.slug,
            text=text,
            sent_at=self.clock(),
            choice=frame.choice if isinstance(frame, SendChoice) else None,
            raw=raw,
            client_ip=self.client_ip,
        )
        receipt = self.gateway.receive(WebhookBatch(messages=[message]))
        if receipt.unrouted:
            raise ProtocolError("NOT_FOUND", "This restaurant no longer exists", frame.id)
        if not receipt.stored:
            return Received(duplicate=True)
        row_id = receipt.stored[0]
        with self.gateway.db.reading() as r:
            stored = r.messages.by_id(row_id)
        if stored is not None:
            with self._lock:
                # Its message.received event may have overtaken us (it was then
                # recognised by address): only a message not yet seen is pending.
                if self._seen.add(stored.public_id):
                    self._pending[stored.public_id] = row_id
        return Received(duplicate=False, stored_id=row_id)

    # --- us -> guest ------------------------------------------------------------------

    def on_event(self, text: str) -> list[str]:
        """Frames for one live message of the restaurant (most are someone else's)."""
        try:
            doc = json.loads(text)
        except ValueError:
            return []
        if not isinstance(doc, dict):
            return []
        kind = doc.get("type")
        if kind not in (events.MESSAGE_RECEIVED, events.MESSAGE_SENT, events.MESSAGE_FAILED):
            return []
        about = doc.get("message")
        if not isinstance(about, dict) or about.get("channel") != CHANNEL:
            return []
        public_id = about.get("id")
        if not isinstance(public_id, str):
            return []
        raw_conversation = doc.get("conversation_id")
        conversation_id = raw_conversation if isinstance(raw_conversation, int) else None
        if kind == events.MESSAGE_RECEIVED:
            return self._received(public_id, conversation_id)
        if kind == events.MESSAGE_SENT:
            return self._sent(public_id, conversation_id)
        with self._lock:
            ours = conversation_id is not None and conversation_id == self.conversation_id
        return [typing_frame(False)] if ours else []

    def _received(self, public_id: str, conversation_id: int | None) -> list[str]:
        with self._lock:
            row_id = self._pending.pop(public_id, None)
            if row_id is not None and conversation_id is not None:
                self.conversation_id = conversation_id  # learnt (or moved by a link)
            known = self.conversation_id
        if row_id is not None:
            return [] if self._reply_coming(row_id) else [typing_frame(False)]
        # Another tab or device of the same session wrote: show it here too.
        if public_id in self._seen or (known is not None and conversation_id != known):
            return []
        message = self._load(public_id)
        if message is None or not self._is_ours(message, conversation_id):
            return []
        with self._lock:
            if message.address == self.identity and conversation_id is not None:
                self.conversation_id = conversation_id
            fresh = self._seen.add(message.public_id)
        return [message_frame(view_of(message, self.identity))] if fresh else []

    def _sent(self, public_id: str, conversation_id: int | None) -> list[str]:
        with self._lock:
            known = self.conversation_id
            seen = public_id in self._seen
        if seen or (known is not None and conversation_id is not None and conversation_id != known):
            return []
        message = self._load(public_id)
        if message is None or not self._is_ours(message, conversation_id):
            return []
        with self._lock:
            if self.conversation_id is None and message.conversation_id is not None:
                self.conversation_id = message.conversation_id
            fresh = self._seen.add(message.public_id)
        return [message_frame(view_of(message, self.identity))] if fresh else []

    def _is_ours(self, message: store.StoredMessage, conversation_id: int | None) -> bool:
        if message.restaurant_id != self.restaurant_id or message.channel != CHANNEL:
            return False
        if message.address == self.identity:
            return True
        with self._lock:
            known = self.conversation_id
        return known is not None and conversation_id == known

    def _load(self, public_id: str) -> store.StoredMessage | None:
        with self.gateway.db.reading() as r:
            row_id = r.messages.id_of(public_id)
            return None if row_id is None else r.messages.by_id(row_id)

    def _reply_coming(self, inbound_row_id: int) -> bool:
        """After the bot's turn on one of our messages: is a reply on its way that
        the widget has not been shown yet? If not, the typing indicator goes off.
        (Rows after the inbound one only: a primary-key range, however long the
        guest's history.)"""
        with self.gateway.db.reading() as r:
            replies = r.messages.replies_after(
                inbound_row_id, self.restaurant_id, CHANNEL, self.identity
            )
        with self._lock:
            return any(public_id not in self._seen for public_id in replies)


class FrameBudget:
    """A per-connection token bucket: ``burst`` frames at once, ``per_s`` after.

    Every guest message is a database write and a bot turn; one socket must not
    be able to flood either. (The gateway's per-guest limit still decides
    whether the bot answers at all.)
    """

    def __init__(
        self, burst: float, per_s: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.per_s = per_s
        self._now = monotonic
        self._tokens = burst
        self._at = monotonic()

    def take(self) -> bool:
        now = self._now()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
