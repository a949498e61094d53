"""The single entry point for guest messages, in and out.

Inbound, :meth:`Gateway.receive` only stores: each message is routed to its
restaurant by the receiving number/page/address and inserted under the unique
``(channel, provider_message_id)`` key, in one short transaction, before the
provider is acknowledged. A provider retrying for days therefore costs a
no-op insert, and a process that dies after acknowledging loses nothing.

Behind the acknowledgement, :meth:`Gateway.answer_inbound` (run by
:class:`~saveit.messaging.workers.ChannelWorkers` in every API process and in
``saveit worker``) claims stored messages with a lease, resolves the guest's
identity and conversation, asks the :class:`Responder` for replies, and queues
them; :class:`~saveit.messaging.delivery.Delivery` sends them (see there).

The responder runs outside any transaction (it may book, which opens its own),
so a crash between its reply and the commit can make it run twice for one
message: responders must be idempotent per inbound message (the message's
``public_id`` is the natural idempotency key). Conversation state is saved
with an optimistic version check; a lost race re-runs the turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from saveit.domain import events
from saveit.domain.channel_ports import ChannelAccount, Sender
from saveit.domain.commands import GuestDetails
from saveit.domain.messages import (
    ChannelName,
    Choice,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    WebhookBatch,
)
from saveit.messaging.delivery import LEASE, Delivery, announce, announcement
from saveit.observe import metrics, tracing
from saveit.observe.context import resumed
from saveit.ratelimit import RateLimiter
from saveit.ratelimit.gcra import Rule
from saveit.store import conversations as convs
from saveit.store import messages as store
from saveit.store.answered import Answered
from saveit.store.channel_accounts import AccountDirectory
from saveit.store.errors import UNAVAILABLE
from saveit.store.outbox import event_row
from saveit.store.secret_box import SecretBox
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger(__name__)

TURN_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Turn:
    """One inbound message as the responder sees it."""

    restaurant_id: int
    restaurant_name: str
    restaurant_slug: str
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
    optionally the conversation's new dialogue state and language, and whether
    staff should take over (the bot then stays quiet until they hand it back)."""

    messages: list[OutboundMessage] = field(default_factory=list)
    state: dict[str, Any] | None = None
    language: str | None = None
    handoff: bool = False
    note: str | None = None  # kept with the guest's message (NOT_UNDERSTOOD: counted)


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
        engine: Database | DatabaseLike,
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
        box: SecretBox | None = None,
        lease: timedelta = LEASE,
        delivery: Delivery | None = None,
        directory: AccountDirectory | None = None,
    ) -> None:
        self.db = database_of(engine)
        self.engine = self.db.engine
        self.lease = lease
        self.directory = directory or AccountDirectory(self.db)
        # The composition root hands in the delivery it also gives whoever else
        # queues messages (identity links, verification codes, the notifier).
        self.delivery = delivery or Delivery(
            self.db,
            directory=self.directory,
            senders=senders,
            box=box,
            clock=clock,
            send_attempts=send_attempts,
            send_backoff_s=send_backoff_s,
            public_base_url=public_base_url,
            lease=lease,
        )
        self.responder = responder
        self.clock = clock
        self.limiter = limiter
        self.guest_rule = Rule("chat", guest_per_minute, 60.0)
        self.phone_region = phone_region
        self.inbox_ready = threading.Event()

    # --- inbound: store first ------------------------------------------------------------

    def route(self, channel: str, recipient: str) -> ChannelAccount | None:
        return self.directory.route(channel, recipient)

    def receive(self, batch: WebhookBatch) -> Receipt:
        """Store a webhook's messages and apply its statuses, in one transaction."""
        return self._receive_together([batch])[0]

    def receive_many(self, batches: Sequence[WebhookBatch]) -> list[Receipt | Exception]:
        """Store several webhooks' messages in one transaction (one multi-row insert,
        one commit): the group commit behind :class:`~saveit.messaging.intake.Intake`.

        A batch that cannot be stored must not take the others down with it: when
        the shared transaction fails, each batch is stored again on its own, and only
        the ones that still fail get their exception back. Not when the database is
        unreachable: that fails every batch alike, and trying each one again would
        only make the providers wait for one timeout per webhook.
        """
        try:
            return list(self._receive_together(batches))
        except UNAVAILABLE:
            raise
        except Exception:
            if len(batches) == 1:
                raise
            log.warning("channels: a group of %d webhooks failed; storing each alone", len(batches))
        results: list[Receipt | Exception] = []
        for batch in batches:
            try:
                results.append(self.receive(batch))
            except Exception as exc:
                results.append(exc)
        return results

    def _receive_together(self, batches: Sequence[WebhookBatch]) -> list[Receipt]:
        now = self.clock()
        receipts = [Receipt(ignored=list(batch.ignored)) for batch in batches]
        routed: list[tuple[Receipt, int, InboundMessage]] = []
        metas: list[dict[str, str] | None] = []
        for batch, receipt in zip(batches, receipts, strict=True):
            for message in batch.messages:
                account = self.route(message.channel, message.recipient)
                if account is None:
                    receipt.unrouted += 1
                    receipt.ignored.append(
                        f"{message.channel} message {message.provider_message_id} for unknown "
                        f"recipient {message.recipient!r}"
                    )
                else:
                    routed.append((receipt, account.restaurant_id, message))
                    metas.append(batch.meta)
        if routed or any(batch.statuses for batch in batches):
            with self.db.unit_of_work() as uow:
                new_ids = uow.messages.insert_inbound_many(
                    [(restaurant_id, message) for _, restaurant_id, message in routed],
                    now,
                    metas=metas,
                )
                for (receipt, _, _), new_id in zip(routed, new_ids, strict=True):
                    if new_id is None:
                        receipt.duplicates += 1
                    else:
                        receipt.stored.append(new_id)
                for batch, receipt in zip(batches, receipts, strict=True):
                    for status in batch.statuses:
                        moved = uow.messages.apply_status(status, now)
                        if moved is None:
                            continue
                        receipt.statuses += 1
                        if status.status is DeliveryStatus.FAILED:
                            announce(uow, events.MESSAGE_FAILED, moved, now)
        if any(receipt.stored for receipt in receipts):
            self.inbox_ready.set()
        for receipt in receipts:
            self._log(receipt)
        return receipts

    @staticmethod
    def _log(receipt: Receipt) -> None:
        for reason in receipt.ignored:
            log.info("channels: ignored %s", reason)

    # --- inbound: answer behind the acknowledgement ---------------------------------------

    def answer_inbound(self, limit: int = 20) -> int:
        """Answer one batch of stored messages; returns how many were claimed."""
        claimed = self.claim_inbound(limit)
        for message in claimed:
            self.answer(message)
        return len(claimed)

    def claim_inbound(self, limit: int) -> list[store.StoredMessage]:
        """Lease up to ``limit`` stored messages to this process, oldest first. A guest
        with a message leased (being answered) has none claimed until it is done."""
        now = self.clock()
        # one statement: on PostgreSQL its own transaction, without BEGIN and COMMIT
        with self.db.on_its_own() or self.db.unit_of_work() as uow:
            return uow.messages.claim_inbound(now=now, lease=self.lease, limit=limit)

    def answer(self, message: store.StoredMessage) -> None:
        """Answer one claimed message; a failure is logged, the message's lease lapses
        and it is claimed again later (one bad message must not stop the others)."""
        try:
            started = time.perf_counter()
            with resumed(message.body), tracing.span("bot.reply", channel=message.channel):
                self._answer(message)
            metrics.bot_reply.observe(time.perf_counter() - started)
        except Exception:
            log.exception("channels: answering message %s failed", message.id)

    def _answer(self, message: store.StoredMessage) -> None:
        now = self.clock()
        identity, conversation, first = self._sender(message, now)
        name, slug = self.directory.speaking_as(message.restaurant_id)
        allowed = (
            self.limiter is None
            or self.limiter.hit(self.guest_rule, f"{message.channel}:{message.address}").allowed
        )
        merged_reply: Reply | None = None
        for _ in range(TURN_RETRIES):
            note: str | None = None
            reply = Reply()
            if merged_reply is not None:
                reply = merged_reply
            elif not allowed:
                note = "RATE_LIMITED"
            elif conversation.handoff:
                note = "HANDED_OFF"
            else:
                turn = Turn(
                    restaurant_id=message.restaurant_id,
                    restaurant_name=name,
                    restaurant_slug=slug,
                    conversation=conversation,
                    identity=identity,
                    message=message,
                    text=message.text,
                    choice=_choice(message, conversation),
                    first_contact=first,
                    now=now,
                )
                reply = self.responder.respond(turn)
            offered = next(
                (_offered(m) for m in reversed(reply.messages) if m.choices),
                conversation.offered if not reply.messages else [],
            )
            state = reply.state if reply.state is not None else conversation.state
            if merged_reply is None:
                answered = self._answered_at_once(
                    message, identity, conversation, reply, state, offered, note, now
                )
                if answered is not None:
                    if answered.reply is not None:
                        self.delivery.handoff.hand(
                            [answered.reply], identity, reply.language or conversation.language
                        )
                    return
            with self.db.unit_of_work() as uow:
                saved = uow.conversations.save_turn(
                    conversation, state=state, offered=offered, language=reply.language, now=now
                )
                if not saved:
                    fresh = uow.conversations.conversation(conversation.id)
                    if fresh is None:
                        # Merged into the guest's other conversation (this turn may be
                        # the one that linked them): the answer stands, sent from the
                        # merged conversation, whose own dialogue state is kept.
                        current = uow.conversations.identity(identity.id)
                        identity = current or identity
                        fresh, _ = uow.conversations.open_conversation(
                            message.restaurant_id, identity.guest_id, now
                        )
                        reply.state = None
                        merged_reply = reply
                    conversation = fresh
                    continue
                if not uow.messages.finish_inbound(message.id, now, note or reply.note):
                    return  # another worker answered it after our lease lapsed
                if reply.handoff:
                    uow.conversations.hand_off(conversation, active=True, by="bot", now=now)
                queued = [
                    uow.messages.queue_row(
                        self.delivery.outbound_row(
                            message.restaurant_id,
                            identity,
                            conversation.id,
                            out,
                            "bot",
                            now,
                            to_hand=True,
                        )
                    )
                    for out in reply.messages
                ]
                announce(uow, events.MESSAGE_RECEIVED, message, now, conversation.id)
            if queued:
                self.delivery.handoff.hand(
                    queued, identity, reply.language or conversation.language
                )
            return
        log.warning(
            "channels: message %s lost %d state races; retried later", message.id, TURN_RETRIES
        )

    def _answered_at_once(
        self,
        message: store.StoredMessage,
        identity: convs.Identity,
        conversation: convs.Conversation,
        reply: Reply,
        state: dict[str, Any],
        offered: list[dict[str, str]],
        note: str | None,
        now: datetime,
    ) -> Answered | None:
        """The turn's answer written as one statement of its own (``store.answered``):
        what the transaction below writes, for a turn with at most one reply and no
        hand-off to staff. None: not written, for the transaction to do (another
        kind of turn, SQLite, or the state lost a race and must be read again)."""
        if reply.handoff or len(reply.messages) > 1:
            return None
        at_once = self.db.on_its_own()
        if at_once is None:
            return None
        row = None
        if reply.messages:
            row = self.delivery.outbound_row(
                message.restaurant_id,
                identity,
                conversation.id,
                reply.messages[0],
                "bot",
                now,
                to_hand=True,
            )
        event = event_row(
            restaurant_id=message.restaurant_id,
            type_=events.MESSAGE_RECEIVED,
            payload=announcement(message, conversation.id),
            at=now,
        )
        with at_once as uow:
            return uow.answers.answered_at_once(
                conversation,
                state=state,
                offered=offered,
                language=reply.language,
                now=now,
                message_id=message.id,
                note=note or reply.note,
                reply=row,
                event=event,
            )

    def _sender(
        self, message: store.StoredMessage, now: datetime
    ) -> tuple[convs.Identity, convs.Conversation, bool]:
        """Who wrote, their conversation, and whether this message started it; the
        message is attached to both. A known sender with a conversation (nearly every
        turn) is one statement on its own, and a new sender one more
        (``store.first_contact``); a known sender without a conversation, a race
        either statement lost, or a proof to record, takes a transaction."""
        proof = message.body.get("proof")  # the sender proved the address (email)
        proof = proof if isinstance(proof, str) and proof else None
        at_once = None if proof else self.db.on_its_own()
        if at_once is not None:
            with at_once as uow:
                known, talk = uow.conversations.returning_sender(
                    message.restaurant_id, message.channel, message.address, message.id, now
                )
                if known is not None and talk is not None:
                    return known, talk, False
                if known is None:
                    met = uow.first_contacts.met_at_once(
                        message.restaurant_id,
                        message.channel,
                        message.address,
                        self._details(message),
                        message.id,
                        now,
                    )
                    if met is not None:
                        return met
        with self.db.unit_of_work() as uow:
            identity = uow.conversations.resolve(
                message.restaurant_id,
                message.channel,
                message.address,
                name=message.body.get("sender_name"),
                now=now,
                phone_region=self.phone_region,
            )
            if proof:
                identity = uow.conversations.mark_verified(identity.id, proof, now)
            conversation, first = uow.conversations.open_conversation(
                message.restaurant_id, identity.guest_id, now
            )
            uow.messages.attach(
                message.id, identity_id=identity.id, conversation_id=conversation.id
            )
        return identity, conversation, first

    def _details(self, message: store.StoredMessage) -> GuestDetails:
        name = message.body.get("sender_name")
        return convs.details_of(
            message.channel,
            message.address,
            name if isinstance(name, str) else None,
            self.phone_region,
        )

    # --- outbound -----------------------------------------------------------------------

    # --- outbound, through the delivery queue --------------------------------------------

    def send_to_conversation(
        self,
        conversation_id: int,
        message: OutboundMessage,
        *,
        author: str,
        channel: ChannelName | None = None,
    ) -> store.StoredMessage:
        return self.delivery.send_to_conversation(
            conversation_id, message, author=author, channel=channel
        )

    def deliver_due(self, limit: int = 20) -> int:
        return self.delivery.deliver_due(limit)


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
