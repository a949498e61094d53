"""``saveit chat``: talk to the bot from a terminal, as a guest on a channel would.

The terminal is a provider like any other: each line typed goes through the
real gateway (stored, deduplicated, answered by the bot with the conversation
state in the database), and each reply comes back through the delivery queue
to a :class:`TerminalSender` that renders it the way the chosen channel would —
buttons and lists on the web chat, WhatsApp and Instagram; numbered lines on
SMS and email. Typing a choice's number picks it, as on SMS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from saveit.booking.service import BookingService
from saveit.conversation.bot import BotResponder
from saveit.domain import errors
from saveit.domain.channel_ports import ChannelAccount, SendContext, SendResult
from saveit.domain.messages import ChannelName, InboundMessage, OutboundMessage, WebhookBatch
from saveit.messaging.gateway import Gateway
from saveit.store.unit_of_work import Database, database_of

RICH = frozenset({"webchat", "whatsapp", "instagram"})


def render(channel: str, message: OutboundMessage) -> str:
    if channel not in RICH:
        return message.numbered_text()
    lines = [message.text] if message.text else []
    if message.buttons:
        lines.append("  ".join(f"[{n}] {b.title}" for n, b in enumerate(message.buttons, 1)))
    if message.options:
        lines.append(f"{message.options_label or 'Options'}:")
        lines += [f"  {n}. {o.title}" for n, o in enumerate(message.options, 1)]
    return "\n".join(lines)


class TerminalSender:
    def __init__(self, channel: ChannelName, write: Callable[[str], None]) -> None:
        self.channel = channel
        self.write = write

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        self.write(render(self.channel, message))
        return SendResult(f"terminal-{context.message_id}")


def recipient_for(db: Database, slug: str, channel: ChannelName) -> str:
    """Where a guest on ``channel`` writes to reach the restaurant: its number, page or
    address; the web chat is reached by slug."""
    if channel == "webchat":
        return slug
    with db.reading() as r:
        account = r.accounts.find(r.restaurants.id_of(slug), channel)
    if account is None:
        raise errors.NotFound(
            f"'{slug}' has no {channel} account; connect one (PUT /v1/restaurants/{slug}/"
            f"channels/{channel}) or chat on the web chat"
        )
    return account.address


def run_chat(
    booking: BookingService,
    *,
    slug: str,
    channel: ChannelName,
    lines: Iterable[str],
    write: Callable[[str], None],
    sender: str | None = None,
    pending_minutes: int = 30,
) -> None:
    gateway = Gateway(
        booking.engine,
        senders={channel: TerminalSender(channel, write)},
        responder=BotResponder(booking, pending_minutes=pending_minutes),
        clock=booking.clock,
    )
    recipient = recipient_for(database_of(booking), slug, channel)
    me = sender or _guest_address(channel)
    for line in lines:
        said = line.strip()
        if not said:
            continue
        if said in {"/quit", "/exit"}:
            return
        gateway.receive(
            WebhookBatch(
                messages=[
                    InboundMessage(
                        channel=channel,
                        provider_message_id=f"terminal-{uuid.uuid4().hex}",
                        sender=me,
                        recipient=recipient,
                        text=said,
                        sent_at=datetime.now(UTC),
                    )
                ]
            )
        )
        while gateway.answer_inbound() or gateway.deliver_due():
            pass


def _guest_address(channel: str) -> str:
    """A fresh guest per session, shaped like the channel's identities."""
    token = uuid.uuid4().int
    if channel in {"sms", "whatsapp"}:
        return f"+3460{token % 10**7:07d}"
    if channel == "email":
        return f"guest-{token % 10**8}@terminal.invalid"
    return f"terminal-{token % 10**12}"
