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

The bot's replies skip the queue's round trips: see
:mod:`saveit.messaging.handoff`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from saveit.domain import errors, events
from saveit.domain.channel_ports import ChannelAccount, SendContext, Sender, SendFailed
from saveit.domain.messages import ChannelName, DeliveryStatus, OutboundMessage
from saveit.messaging.handoff import Handed, Handoff
from saveit.observe import metrics, tracing
from saveit.observe.context import resumed
from saveit.store import conversations as convs
from saveit.store import messages as store
from saveit.store.channel_accounts import AccountDirectory
from saveit.store.outbox import event_row
from saveit.store.secret_box import SecretBox, SecretsUnreadable
from saveit.store.unit_of_work import (
    Database,
    DatabaseLike,
    UnitOfWork,
    database_of,
)

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
        engine: Database | DatabaseLike,
        *,
        senders: Mapping[str, Sender],
        clock: Callable[[], datetime],
        send_attempts: int = 6,
        send_backoff_s: float = 2.0,
        public_base_url: str | None = None,
        box: SecretBox | None = None,
        lease: timedelta = LEASE,
        directory: AccountDirectory | None = None,
        concurrency: int = 1,
    ) -> None:
        self.db = database_of(engine)
        self.lease = lease
        self.concurrency = concurrency  # guests sent to at once (see deliver_due)
        # The accounts and names sends go out with, remembered for a couple of seconds
        # (an edit in this process applies at once: the admin service forgets them).
        self.directory = directory or AccountDirectory(self.db)
        self.box = box  # opens the accounts' sealed access tokens for the senders
        self.senders = dict(senders)
        self.clock = clock
        self.send_attempts = send_attempts
        self.send_backoff_s = send_backoff_s
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.ready = threading.Event()
        self._pruned_at: datetime | None = None
        self.handoff = Handoff(self.db, lease, self.ready)

    def outbound_row(
        self,
        restaurant_id: int,
        identity: convs.Identity,
        conversation_id: int | None,
        message: OutboundMessage,
        author: str,
        now: datetime,
        *,
        to_hand: bool = False,
    ) -> dict[str, Any]:
        """A queued message's row, for the caller's unit of work to queue
        (``messages.queue_row``) or to write in a statement of its own
        (``store.answered``). ``to_hand``: leased to this process, for the caller to
        hand over (``handoff.hand``) once it commits."""
        return store.outbound_row(
            restaurant_id=restaurant_id,
            channel=identity.channel,
            address=identity.external_id,
            identity_id=identity.id,
            conversation_id=conversation_id,
            message=message,
            author=author,
            now=now,
            claimed_until=now + self.lease if to_hand else None,
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
        with self.db.unit_of_work() as uow:
            conversation = uow.conversations.conversation(conversation_id)
            if conversation is None:
                raise errors.NotFound(f"No conversation {conversation_id}")
            identity = _reply_identity(uow, conversation, channel)
            queued = uow.messages.queue_row(
                self.outbound_row(
                    conversation.restaurant_id, identity, conversation.id, message, author, now
                )
            )
        self.ready.set()
        return queued

    def deliver_due(self, limit: int = 20) -> int:
        """Send what was handed over, or else one batch of due messages; returns how
        many were sent or claimed."""
        batch: list[tuple[store.StoredMessage, Handed | None]]
        if handed := self.handoff.take():
            batch = [(h.message, h) for h in handed]
        else:
            now = self.clock()
            # each statement on its own (PostgreSQL): the claim is one, and pruning
            # old early statuses is not tied to it
            with self.db.on_its_own() or self.db.unit_of_work() as uow:
                claimed = uow.messages.claim_outbound(now=now, lease=self.lease, limit=limit)
                batch = [(message, None) for message in claimed]
                if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                    self._pruned_at = now
                    uow.messages.prune_early_statuses(now - EARLY_STATUS_KEPT)
        # One guest's messages go out one after another, in order; different guests'
        # at once, up to ``concurrency``: a provider call is a network round trip
        # (100–300 ms to Meta or Twilio), so one at a time would cap a worker at a
        # few sends a second, whatever the database and the cores could do. The
        # batch is finished before the next claim, so order holds across batches.
        queues: dict[tuple[str, str], list[tuple[store.StoredMessage, Handed | None]]] = {}
        for message, known in batch:
            queues.setdefault((message.channel, message.address), []).append((message, known))
        if self.concurrency <= 1 or len(queues) <= 1:
            self._deliver_in_order(batch)
        else:
            workers = min(self.concurrency, len(queues))
            with ThreadPoolExecutor(workers, thread_name_prefix="saveit-send") as pool:
                for _ in pool.map(self._deliver_in_order, queues.values()):
                    pass
        return len(batch)

    def _deliver_in_order(self, messages: list[tuple[store.StoredMessage, Handed | None]]) -> None:
        for message, known in messages:
            try:
                with resumed(message.body):
                    self._deliver(message, known)
            except Exception:
                log.exception("channels: delivering message %s failed", message.id)

    def _deliver(self, message: store.StoredMessage, known: Handed | None = None) -> None:
        sender = self.senders.get(message.channel)
        now = self.clock()
        # What the send needs is read, and the send marked started, on one connection
        # with every statement its own transaction (PostgreSQL): a bot's reply, whose
        # turn handed over what it read, costs one round trip before the provider call.
        # A failure's two writes take a transaction of their own.
        failure: tuple[str, str] | None = None
        with self.db.on_its_own() or self.db.unit_of_work() as uow:
            try:
                context, account = self._context(uow, message, known)
            except SecretsUnreadable as exc:
                log.error("channels: message %s: %s", message.id, exc)
                failure = ("SECRETS_UNREADABLE", str(exc))
            else:
                if sender is None or account is None:
                    what = (
                        "no sender is configured"
                        if sender is None
                        else "the restaurant has no account"
                    )
                    failure = ("NOT_CONFIGURED", f"{message.channel}: {what}")
                elif message.send_started_at is not None and message.channel not in RESENDABLE:
                    failure = (
                        "DELIVERY_UNCERTAIN",
                        "the process sending this stopped mid-send; the guest may or may not "
                        "have it, and it is not sent again on its own",
                    )
                else:
                    uow.messages.mark_sending(message.id, now)
        if failure is not None:
            self._fail(message, *failure, now)
            return
        assert sender is not None  # (as checked above)
        assert account is not None
        try:
            with tracing.span("channel.send", channel=message.channel):
                result = sender.send(account, message.address, message.outbound, context)
        except SendFailed as exc:
            now = self.clock()
            if exc.retryable and message.attempts + 1 < self.send_attempts:
                metrics.channel_sends.labels(message.channel, "retried").inc()
                delay = self.send_backoff_s * 2**message.attempts
                with self.db.unit_of_work() as uow:
                    uow.messages.mark_retry(
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
        at_once = self.db.on_its_own()
        if at_once is not None:  # one statement of its own, unless early statuses wait
            event = event_row(
                restaurant_id=message.restaurant_id,
                type_=events.MESSAGE_SENT,
                payload=announcement(message),
                at=now,
            )
            with at_once as uow:
                if uow.messages.sent_at_once(message.id, result.provider_message_id, now, event):
                    return
        with self.db.unit_of_work() as uow:
            early = uow.messages.mark_sent(message.id, result.provider_message_id, now)
            announce(uow, events.MESSAGE_SENT, message, now)
            if early is not None and early.status == DeliveryStatus.FAILED.value:
                # The provider's failure report came in before we recorded the send.
                announce(uow, events.MESSAGE_FAILED, early, now, error_code=early.error_code)

    def _fail(self, message: store.StoredMessage, code: str, detail: str, now: datetime) -> None:
        with self.db.unit_of_work() as uow:
            self._failed(uow, message, code, detail, now)

    @staticmethod
    def _failed(
        uow: UnitOfWork, message: store.StoredMessage, code: str, detail: str, now: datetime
    ) -> None:
        metrics.channel_sends.labels(message.channel, "failed").inc()
        log.warning(
            "channels: %s message %s failed: %s %s", message.channel, message.id, code, detail
        )
        uow.messages.mark_failed(message.id, code=code, detail=detail, now=now)
        announce(uow, events.MESSAGE_FAILED, message, now, error_code=code)

    def _context(
        self, r: UnitOfWork, message: store.StoredMessage, known: Handed | None
    ) -> tuple[SendContext, ChannelAccount | None]:
        restaurant_name, slug = self.directory.speaking_as(message.restaurant_id)
        if message.channel == "webchat":
            account: ChannelAccount | None = ChannelAccount(message.restaurant_id, "webchat", slug)
        else:
            account = self.directory.sender(message.restaurant_id, message.channel, self.box)
        identity: convs.Identity | None
        if known is not None:  # the turn that queued it has just read both
            identity, language = known.identity, known.language
            conversation_id = message.conversation_id
        else:
            identity = (
                None
                if message.identity_id is None
                else r.conversations.identity(message.identity_id)
            )
            conversation = (
                None
                if message.conversation_id is None
                else r.conversations.conversation(message.conversation_id)
            )
            language = conversation.language if conversation else None
            conversation_id = conversation.id if conversation else None
        window_open = True
        if message.channel in WINDOW_CHANNELS:
            last = identity.last_inbound_at if identity else None
            window_open = last is not None and self.clock() - last < WINDOW
        in_reply_to: str | None = None
        references: tuple[str, ...] = ()
        if message.channel == "email" and conversation_id is not None:
            parent = r.messages.last_inbound(conversation_id, "email")
            if parent is not None and parent.provider_message_id:
                in_reply_to = parent.provider_message_id
                references = (*parent.body.get("references", ()), in_reply_to)
            else:  # our own earlier mails: a booking's notices read as one thread
                thread = r.messages.email_thread(conversation_id, before=message.id)
                if thread:
                    in_reply_to, references = thread[-1], tuple(thread)
        callback = None
        if message.channel == "sms" and self.public_base_url:
            callback = f"{self.public_base_url}/webhooks/twilio/status"
        context = SendContext(
            message_id=message.public_id,
            language=language or "es",
            restaurant_name=restaurant_name,
            window_open=window_open,
            in_reply_to=in_reply_to,
            references=tuple(dict.fromkeys(references)),
            status_callback_url=callback,
            now=self.clock(),
        )
        return context, account


def announce(
    uow: UnitOfWork,
    type_: str,
    message: store.StoredMessage,
    now: datetime,
    conversation_id: int | None = None,
    **extra: Any,
) -> None:
    """An event for the live feed and the web chat (a message in or out)."""
    payload = announcement(message, conversation_id, **extra)
    uow.emit(restaurant_id=message.restaurant_id, type_=type_, payload=payload, at=now)


def announcement(
    message: store.StoredMessage, conversation_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    """The payload of :func:`announce`'s event."""
    return {
        "conversation_id": conversation_id or message.conversation_id,
        "message": {
            "id": message.public_id,
            "direction": message.direction,
            "channel": message.channel,
            "author": message.author,
            **extra,
        },
    }


def _reply_identity(
    uow: UnitOfWork, conversation: convs.Conversation, channel: str | None
) -> convs.Identity:
    """The guest's identity to answer on: the one named, else the latest to write."""
    known = uow.conversations.identities_of(conversation.guest_id)
    if channel is not None:
        known = [i for i in known if i.channel == channel]
    if not known:
        raise errors.Conflict(
            "The guest has no identity on that channel to write to", channel=channel
        )
    return convs.latest(known)
