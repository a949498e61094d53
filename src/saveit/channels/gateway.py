"""The single entry point for guest messages, in and out.

Inbound, :meth:`Gateway.receive` only stores: each message is routed to its
restaurant by the receiving number/page/address and inserted under the unique
``(channel, provider_message_id)`` key, in one short transaction, before the
provider is acknowledged. A provider retrying for days therefore costs a
no-op insert, and a process that dies after acknowledging loses nothing.

Behind the acknowledgement, :meth:`Gateway.answer_inbound` (run by
:class:`~saveit.channels.workers.ChannelWorkers` in every API process and in
``saveit worker``) claims stored messages with a lease, resolves the guest's
identity and conversation, asks the :class:`Responder` for replies, and queues
them; :meth:`Gateway.deliver_due` sends queued replies through the channel's
:class:`~saveit.channels.ports.Sender`, retrying 5xx/timeouts with exponential
backoff and giving up into the visible ``failed`` state.

The responder runs outside any transaction (it may book, which opens its own),
so a crash between its reply and the commit can make it run twice for one
message: responders must be idempotent per inbound message (the message's
``public_id`` is the natural idempotency key). Conversation state is saved
with an optimistic version check; a lost race re-runs the turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select

from saveit.channels.model import (
    ChannelName,
    Choice,
    DeliveryStatus,
    OutboundMessage,
    WebhookBatch,
)
from saveit.channels.ports import ChannelAccount, SendContext, Sender, SendFailed
from saveit.domain import errors
from saveit.events import model as events
from saveit.ratelimit import RateLimiter
from saveit.ratelimit.gcra import Rule
from saveit.store import channel_accounts as accounts
from saveit.store import conversations as convs
from saveit.store import messages as store
from saveit.store.channel_accounts import AccountDirectory
from saveit.store.database import reading
from saveit.store.reservations import emit
from saveit.store.schema import restaurants

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)  # WhatsApp and Instagram: free-form replies only this long
WINDOW_CHANNELS = frozenset({"whatsapp", "instagram"})
LEASE = timedelta(seconds=60)
TURN_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Turn:
    """One inbound message as the responder sees it."""

    restaurant_id: int
    restaurant_name: str
    conversation: convs.Conversation
    identity: convs.Identity
    message: store.StoredMessage
    text: str
    choice: Choice | None
    first_contact: bool
    now: datetime


@dataclass(slots=True)
class Reply:
    """What the responder answers: messages to send back on the guest's channel,
    and optionally the conversation's new dialogue state and language."""

    messages: list[OutboundMessage] = field(default_factory=list)
    state: dict[str, Any] | None = None
    language: str | None = None


class Responder(Protocol):
    def respond(self, turn: Turn) -> Reply: ...


@dataclass(slots=True)
class Receipt:
    """What one webhook call amounted to (the route logs it; providers get a 200)."""

    stored: list[int] = field(default_factory=list)
    duplicates: int = 0
    unrouted: int = 0
    statuses: int = 0
    ignored: list[str] = field(default_factory=list)


class Gateway:
    def __init__(
        self,
        engine: Engine,
        *,
        senders: Mapping[str, Sender],
        responder: Responder,
        clock: Callable[[], datetime],
        limiter: RateLimiter | None = None,
        guest_per_minute: int = 20,
        send_attempts: int = 6,
        send_backoff_s: float = 2.0,
        public_base_url: str | None = None,
        phone_region: str = "ES",
    ) -> None:
        self.engine = engine
        self.directory = AccountDirectory(engine)
        self.senders = dict(senders)
        self.responder = responder
        self.clock = clock
        self.limiter = limiter
        self.guest_rule = Rule("chat", guest_per_minute, 60.0)
        self.send_attempts = send_attempts
        self.send_backoff_s = send_backoff_s
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.phone_region = phone_region
        self.inbox_ready = threading.Event()
        self.outbox_ready = threading.Event()

    # --- inbound: store first ------------------------------------------------------------

    def route(self, channel: str, recipient: str) -> ChannelAccount | None:
        if channel == "webchat":
            return self._webchat_account(recipient)
        return self.directory.route(channel, recipient)

    def _webchat_account(self, slug: str) -> ChannelAccount | None:
        with reading(self.engine) as conn:
            found = conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug))
            restaurant_id = found.scalar()
        return None if restaurant_id is None else ChannelAccount(restaurant_id, "webchat", slug)

    def receive(self, batch: WebhookBatch) -> Receipt:
        """Store a webhook's messages and apply its statuses, in one transaction."""
        receipt = Receipt(ignored=list(batch.ignored))
        now = self.clock()
        routed = []
        for message in batch.messages:
            account = self.route(message.channel, message.recipient)
            if account is None:
                receipt.unrouted += 1
                receipt.ignored.append(
                    f"{message.channel} message {message.provider_message_id} for unknown "
                    f"recipient {message.recipient!r}"
                )
            else:
                routed.append((account.restaurant_id, message))
        if not routed and not batch.statuses:
            self._log(receipt)
            return receipt
        with self.engine.begin() as conn:
            for restaurant_id, message in routed:
                new_id = store.insert_inbound(conn, restaurant_id, message, now)
                if new_id is None:
                    receipt.duplicates += 1
                else:
                    receipt.stored.append(new_id)
            for status in batch.statuses:
                moved = store.apply_status(conn, status, now)
                if moved is None:
                    continue
                receipt.statuses += 1
                if status.status is DeliveryStatus.FAILED:
                    self._announce(conn, events.MESSAGE_FAILED, moved, now)
        if receipt.stored:
            self.inbox_ready.set()
        self._log(receipt)
        return receipt

    @staticmethod
    def _log(receipt: Receipt) -> None:
        for reason in receipt.ignored:
            log.info("channels: ignored %s", reason)

    # --- inbound: answer behind the acknowledgement ---------------------------------------

    def answer_inbound(self, limit: int = 20) -> int:
        """Answer one batch of stored messages; returns how many were claimed."""
        now = self.clock()
        with self.engine.begin() as conn:
            claimed = store.claim_inbound(conn, now=now, lease=LEASE, limit=limit)
        for message in claimed:
            try:
                self._answer(message)
            except Exception:  # one bad message must not stop the others
                log.exception("channels: answering message %s failed", message.id)
        return len(claimed)

    def _answer(self, message: store.StoredMessage) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            identity = convs.resolve(
                conn,
                message.restaurant_id,
                message.channel,
                message.address,
                name=message.body.get("sender_name"),
                now=now,
                phone_region=self.phone_region,
            )
            conversation, first = convs.open_conversation(
                conn, message.restaurant_id, identity.guest_id, now
            )
            store.attach(conn, message.id, identity_id=identity.id, conversation_id=conversation.id)
            name = conn.execute(
                select(restaurants.c.name).where(restaurants.c.id == message.restaurant_id)
            ).scalar_one()
        allowed = (
            self.limiter is None
            or self.limiter.hit(self.guest_rule, f"{message.channel}:{message.address}").allowed
        )
        for _ in range(TURN_RETRIES):
            note: str | None = None
            reply = Reply()
            if not allowed:
                note = "RATE_LIMITED"
            elif conversation.handoff:
                note = "HANDED_OFF"
            else:
                turn = Turn(
                    restaurant_id=message.restaurant_id,
                    restaurant_name=name,
                    conversation=conversation,
                    identity=identity,
                    message=message,
                    text=message.text,
                    choice=_choice(message, conversation),
                    first_contact=first,
                    now=now,
                )
                reply = self.responder.respond(turn)
            with self.engine.begin() as conn:
                offered = next(
                    (_offered(m) for m in reversed(reply.messages) if m.choices),
                    conversation.offered if not reply.messages else [],
                )
                saved = convs.save_turn(
                    conn,
                    conversation,
                    state=reply.state if reply.state is not None else conversation.state,
                    offered=offered,
                    language=reply.language,
                    now=now,
                )
                if not saved:
                    fresh = convs.conversation(conn, conversation.id)
                    if fresh is None:  # merged away meanwhile: answer in the merged one
                        fresh, _ = convs.open_conversation(
                            conn, message.restaurant_id, identity.guest_id, now
                        )
                    conversation = fresh
                    continue
                if not store.finish_inbound(conn, message.id, now, note):
                    return  # another worker answered it after our lease lapsed
                for out in reply.messages:
                    self._queue(
                        conn, message.restaurant_id, identity, conversation.id, out, "bot", now
                    )
                self._announce(conn, events.MESSAGE_RECEIVED, message, now, conversation.id)
            if reply.messages:
                self.outbox_ready.set()
            return
        log.warning(
            "channels: message %s lost %d state races; retried later", message.id, TURN_RETRIES
        )

    # --- outbound -----------------------------------------------------------------------

    def _queue(
        self,
        conn: Any,
        restaurant_id: int,
        identity: convs.Identity,
        conversation_id: int | None,
        message: OutboundMessage,
        author: str,
        now: datetime,
    ) -> store.StoredMessage:
        return store.enqueue(
            conn,
            restaurant_id=restaurant_id,
            channel=identity.channel,
            address=identity.external_id,
            identity_id=identity.id,
            conversation_id=conversation_id,
            message=message,
            author=author,
            now=now,
        )

    def send_to_conversation(
        self,
        conversation_id: int,
        message: OutboundMessage,
        *,
        author: str,
        channel: ChannelName | None = None,
    ) -> store.StoredMessage:
        """Queue a message (a staff reply, a notification) to the guest, on
        ``channel`` or else the channel the guest last wrote from."""
        now = self.clock()
        with self.engine.begin() as conn:
            conversation = convs.conversation(conn, conversation_id)
            if conversation is None:
                raise errors.NotFound(f"No conversation {conversation_id}")
            identity = _reply_identity(conn, conversation, channel)
            queued = self._queue(
                conn, conversation.restaurant_id, identity, conversation.id, message, author, now
            )
        self.outbox_ready.set()
        return queued

    def send_to_identity(
        self, identity: convs.Identity, message: OutboundMessage, *, author: str
    ) -> store.StoredMessage:
        now = self.clock()
        with self.engine.begin() as conn:
            queued = self._queue(conn, identity.restaurant_id, identity, None, message, author, now)
        self.outbox_ready.set()
        return queued

    def deliver_due(self, limit: int = 20) -> int:
        """Send one batch of due messages; returns how many were claimed."""
        now = self.clock()
        with self.engine.begin() as conn:
            claimed = store.claim_outbound(conn, now=now, lease=LEASE, limit=limit)
        for message in claimed:
            try:
                self._deliver(message)
            except Exception:
                log.exception("channels: delivering message %s failed", message.id)
        return len(claimed)

    def _deliver(self, message: store.StoredMessage) -> None:
        sender = self.senders.get(message.channel)
        with reading(self.engine) as conn:
            context, account = self._context(conn, message)
        now = self.clock()
        if sender is None or account is None:
            what = "no sender is configured" if sender is None else "the restaurant has no account"
            self._fail(message, "NOT_CONFIGURED", f"{message.channel}: {what}", now)
            return
        try:
            result = sender.send(account, message.address, message.outbound, context)
        except SendFailed as exc:
            now = self.clock()
            if exc.retryable and message.attempts + 1 < self.send_attempts:
                delay = self.send_backoff_s * 2**message.attempts
                with self.engine.begin() as conn:
                    store.mark_retry(
                        conn,
                        message.id,
                        at=now + timedelta(seconds=delay),
                        error=exc.detail,
                        now=now,
                    )
                log.info(
                    "channels: %s send %s retried in %.0fs: %s",
                    message.channel,
                    message.id,
                    delay,
                    exc.detail,
                )
                return
            self._fail(
                message, exc.code or ("GAVE_UP" if exc.retryable else "REFUSED"), exc.detail, now
            )
            return
        now = self.clock()
        with self.engine.begin() as conn:
            store.mark_sent(conn, message.id, result.provider_message_id, now)
            self._announce(conn, events.MESSAGE_SENT, message, now)

    def _fail(self, message: store.StoredMessage, code: str, detail: str, now: datetime) -> None:
        log.warning(
            "channels: %s message %s failed: %s %s", message.channel, message.id, code, detail
        )
        with self.engine.begin() as conn:
            store.mark_failed(conn, message.id, code=code, detail=detail, now=now)
            self._announce(conn, events.MESSAGE_FAILED, message, now, error_code=code)

    def _context(
        self, conn: Any, message: store.StoredMessage
    ) -> tuple[SendContext, ChannelAccount | None]:
        restaurant = conn.execute(
            select(restaurants.c.name, restaurants.c.slug).where(
                restaurants.c.id == message.restaurant_id
            )
        ).one()
        if message.channel == "webchat":
            account: ChannelAccount | None = ChannelAccount(
                message.restaurant_id, "webchat", restaurant.slug
            )
        else:
            account = accounts.find(conn, message.restaurant_id, message.channel)
        identity = (
            None if message.identity_id is None else convs.identity(conn, message.identity_id)
        )
        conversation = (
            None
            if message.conversation_id is None
            else convs.conversation(conn, message.conversation_id)
        )
        window_open = True
        if message.channel in WINDOW_CHANNELS:
            last = identity.last_inbound_at if identity else None
            window_open = last is not None and self.clock() - last < WINDOW
        in_reply_to, references = None, ()
        if message.channel == "email" and conversation is not None:
            parent = store.last_inbound(conn, conversation.id, "email")
            if parent is not None and parent.provider_message_id:
                in_reply_to = parent.provider_message_id
                references = (*parent.body.get("references", ()), in_reply_to)
        callback = None
        if message.channel == "sms" and self.public_base_url:
            callback = f"{self.public_base_url}/webhooks/twilio/status"
        context = SendContext(
            message_id=message.public_id,
            language=(conversation.language if conversation else None) or "es",
            restaurant_name=restaurant.name,
            window_open=window_open,
            in_reply_to=in_reply_to,
            references=tuple(dict.fromkeys(references)),
            status_callback_url=callback,
            now=self.clock(),
        )
        return context, account

    def _announce(
        self,
        conn: Any,
        type_: str,
        message: store.StoredMessage,
        now: datetime,
        conversation_id: int | None = None,
        **extra: Any,
    ) -> None:
        """An event for the live feed and the web chat (a message in or out)."""
        payload: dict[str, Any] = {
            "conversation_id": conversation_id or message.conversation_id,
            "message": {
                "id": message.public_id,
                "direction": message.direction,
                "channel": message.channel,
                "author": message.author,
                **extra,
            },
        }
        emit(conn, restaurant_id=message.restaurant_id, type_=type_, payload=payload, at=now)


def _choice(message: store.StoredMessage, conversation: convs.Conversation) -> Choice | None:
    """The guest's pick: a tapped button, or "2" typed where there are no buttons."""
    chosen = message.body.get("choice")
    if chosen:
        return Choice(chosen["id"], chosen["title"])
    text = message.text.strip().rstrip(".)")
    if text.isdigit() and conversation.offered:
        n = int(text)
        if 1 <= n <= len(conversation.offered):
            picked = conversation.offered[n - 1]
            return Choice(picked["id"], picked["title"])
    return None


def _offered(message: OutboundMessage) -> list[dict[str, str]]:
    return [{"id": c.id, "title": c.title} for c in message.choices]


def _reply_identity(
    conn: Any, conversation: convs.Conversation, channel: str | None
) -> convs.Identity:
    """The guest's identity to answer on: the one named, else the latest to write."""
    known = convs.identities_of(conn, conversation.guest_id)
    if channel is not None:
        known = [i for i in known if i.channel == channel]
    if not known:
        raise errors.Conflict(
            "The guest has no identity on that channel to write to", channel=channel
        )
    never = datetime.min.replace(tzinfo=UTC)
    return max(known, key=lambda i: (i.last_inbound_at or never, i.id))
