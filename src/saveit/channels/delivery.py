"""Outbound messages: queued in the database, sent by the channel workers.

Every reply — the bot's, a staff member's, a verification code — is a row in
``channel_messages`` first, so a send survives a restart. :meth:`deliver_due`
claims due rows with a lease and sends each through its channel's
:class:`~saveit.domain.channel_ports.Sender`: 5xx, 429 and timeouts are retried with
exponential backoff, other refusals fail at once, and after the last try the
message is ``failed`` with its error, visible in the conversation and announced
as ``message.failed``. Sending never happens on the inbound path.

A send is marked as started (committed) right before the provider call. A
worker that dies between that call and recording its outcome leaves the mark,
and whoever picks the message up when the lease lapses cannot know whether the
guest got it: on channels without an idempotency key it is failed as
``DELIVERY_UNCERTAIN`` for staff to see instead of being sent a second time.
So a guest gets each message at most once, and a crash can only cost a visible
failure, never a duplicate.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from saveit.domain import errors, events
from saveit.domain.channel_ports import ChannelAccount, SendContext, Sender, SendFailed
from saveit.domain.messages import ChannelName, DeliveryStatus, OutboundMessage
from saveit.observe import metrics, tracing
from saveit.observe.context import resumed
from saveit.store import channel_accounts as accounts
from saveit.store import conversations as convs
from saveit.store import messages as store
from saveit.store.database import reading
from saveit.store.outbox import emit
from saveit.store.schema import restaurants
from saveit.store.secret_box import SecretBox, SecretsUnreadable

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)  # WhatsApp and Instagram: free-form replies only this long
WINDOW_CHANNELS = frozenset({"whatsapp", "instagram"})
LEASE = timedelta(seconds=60)
EARLY_STATUS_KEPT = timedelta(days=1)  # a status whose send is never recorded is dropped then
PRUNE_EVERY = timedelta(minutes=10)
# Channels where sending twice is recognised as once: the web chat shows each
# message id once. Neither Meta nor Twilio nor an SMTP relay takes an
# idempotency key, so there a send cut off by a crash is never repeated blindly.
RESENDABLE = frozenset({"webchat"})


class Delivery:
    def __init__(
        self,
        engine: Engine,
        *,
        senders: Mapping[str, Sender],
        clock: Callable[[], datetime],
        send_attempts: int = 6,
        send_backoff_s: float = 2.0,
        public_base_url: str | None = None,
        box: SecretBox | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.box = box  # opens the accounts' sealed access tokens for the senders
        self.senders = dict(senders)
        self.clock = clock
        self.send_attempts = send_attempts
        self.send_backoff_s = send_backoff_s
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.ready = threading.Event()
        self._pruned_at: datetime | None = None

    def queue(
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
            queued = self.queue(
                conn, conversation.restaurant_id, identity, conversation.id, message, author, now
            )
        self.ready.set()
        return queued

    def deliver_due(self, limit: int = 20) -> int:
        """Send one batch of due messages; returns how many were claimed."""
        now = self.clock()
        with self.engine.begin() as conn:
            claimed = store.claim_outbound(conn, now=now, lease=self.lease, limit=limit)
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                store.prune_early_statuses(conn, now - EARLY_STATUS_KEPT)
        for message in claimed:
            try:
                with resumed(message.body):
                    self._deliver(message)
            except Exception:
                log.exception("channels: delivering message %s failed", message.id)
        return len(claimed)

    def _deliver(self, message: store.StoredMessage) -> None:
        sender = self.senders.get(message.channel)
        try:
            with reading(self.engine) as conn:
                context, account = self._context(conn, message)
        except SecretsUnreadable as exc:
            log.error("channels: message %s: %s", message.id, exc)
            self._fail(message, "SECRETS_UNREADABLE", str(exc), self.clock())
            return
        now = self.clock()
        if sender is None or account is None:
            what = "no sender is configured" if sender is None else "the restaurant has no account"
            self._fail(message, "NOT_CONFIGURED", f"{message.channel}: {what}", now)
            return
        if message.send_started_at is not None and message.channel not in RESENDABLE:
            self._fail(
                message,
                "DELIVERY_UNCERTAIN",
                "the process sending this stopped mid-send; the guest may or may not have "
                "it, and it is not sent again on its own",
                now,
            )
            return
        with self.engine.begin() as conn:
            store.mark_sending(conn, message.id, now)
        try:
            with tracing.span("channel.send", channel=message.channel):
                result = sender.send(account, message.address, message.outbound, context)
        except SendFailed as exc:
            now = self.clock()
            if exc.retryable and message.attempts + 1 < self.send_attempts:
                metrics.channel_sends.labels(message.channel, "retried").inc()
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
        metrics.channel_sends.labels(message.channel, "sent").inc()
        now = self.clock()
        with self.engine.begin() as conn:
            early = store.mark_sent(conn, message.id, result.provider_message_id, now)
            announce(conn, events.MESSAGE_SENT, message, now)
            if early is not None and early.status == DeliveryStatus.FAILED.value:
                # The provider's failure report came in before we recorded the send.
                announce(conn, events.MESSAGE_FAILED, early, now, error_code=early.error_code)

    def _fail(self, message: store.StoredMessage, code: str, detail: str, now: datetime) -> None:
        metrics.channel_sends.labels(message.channel, "failed").inc()
        log.warning(
            "channels: %s message %s failed: %s %s", message.channel, message.id, code, detail
        )
        with self.engine.begin() as conn:
            store.mark_failed(conn, message.id, code=code, detail=detail, now=now)
            announce(conn, events.MESSAGE_FAILED, message, now, error_code=code)

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
            account = accounts.find(conn, message.restaurant_id, message.channel, self.box)
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
        in_reply_to: str | None = None
        references: tuple[str, ...] = ()
        if message.channel == "email" and conversation is not None:
            parent = store.last_inbound(conn, conversation.id, "email")
            if parent is not None and parent.provider_message_id:
                in_reply_to = parent.provider_message_id
                references = (*parent.body.get("references", ()), in_reply_to)
            else:  # our own earlier mails: a booking's notices read as one thread
                thread = store.email_thread(conn, conversation.id, before=message.id)
                if thread:
                    in_reply_to, references = thread[-1], tuple(thread)
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


def announce(
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
    return convs.latest(known)
