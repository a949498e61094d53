"""One message model for every channel.

Adapters turn a provider's raw request into :class:`InboundMessage` and
:class:`StatusUpdate` values, and turn an :class:`OutboundMessage` into the
provider's API call. Nothing past an adapter knows which provider a message
came from beyond its ``channel`` name; the gateway and the conversation work on
these types only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

ChannelName = Literal["whatsapp", "instagram", "sms", "email", "webchat"]
CHANNELS: tuple[ChannelName, ...] = ("whatsapp", "instagram", "sms", "email", "webchat")

MAX_BUTTONS = 3  # WhatsApp reply buttons; the strictest channel sets the model's limit
MAX_OPTIONS = 10  # WhatsApp list rows


class DeliveryStatus(StrEnum):
    """Where an outbound message stands. Inbound messages are ``received``.

    Providers report statuses out of order, so a status only ever moves forward
    (:func:`advances`): a late ``sent`` never overwrites ``delivered``, and
    ``failed`` is final.
    """

    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


_RANK = {
    DeliveryStatus.RECEIVED: 0,
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.FAILED: 4,
}


def rank(status: DeliveryStatus) -> int:
    return _RANK[status]


def advances(current: DeliveryStatus, new: DeliveryStatus) -> bool:
    """True when ``new`` is a step forward from ``current`` (``failed`` is final)."""
    if current is DeliveryStatus.FAILED:
        return False
    return _RANK[new] > _RANK[current]


@dataclass(frozen=True, slots=True)
class Choice:
    """A quick-reply button or list row the guest picked: our id and its title."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a guest, as every channel delivers it.

    ``recipient`` is the routing key that names the restaurant: the WhatsApp
    ``phone_number_id``, the Instagram account id, the Twilio ``To`` number, the
    email recipient address, or the restaurant slug for the web chat.
    ``provider_message_id`` is the deduplication key (wamid, mid, MessageSid,
    Message-ID, the widget's client id).
    """

    channel: ChannelName
    provider_message_id: str
    sender: str  # the guest's identity on this channel (E.164 phone, IGSID, email, chat session)
    recipient: str
    text: str
    sent_at: datetime
    choice: Choice | None = None
    sender_name: str | None = None
    reply_to: str | None = None  # provider id of our message this one answers, when known
    references: tuple[str, ...] = ()  # email thread: In-Reply-To + References, oldest first
    subject: str | None = None
    raw: str = ""  # the provider's payload as received, kept for audit
    # How the sender proved it controls ``sender`` (email: "reply", "dkim"; see
    # saveit.channels.email.proof), or None: only claimed.
    proof: str | None = None
    client_ip: str | None = None  # the web chat visitor's address (caps on codes it may ask)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A provider's delivery report on one of our outbound messages."""

    channel: ChannelName
    provider_message_id: str
    status: DeliveryStatus
    at: datetime
    error_code: str | None = None
    error_detail: str | None = None


@dataclass(slots=True)
class WebhookBatch:
    """What one webhook request held: providers batch several of each."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # why parts were skipped, for the log
    meta: dict[str, str] | None = None  # the request id and trace the messages came in under


@dataclass(frozen=True, slots=True)
class Button:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ListOption:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent along (an ``.ics``, a QR image). ``inline`` attachments are
    referenced from the HTML part of an email by ``content_id``."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    """An image by public URL (what Meta's APIs fetch) and/or its bytes (email, web chat)."""

    url: str | None = None
    data: bytes | None = None
    content_type: str = "image/png"
    caption: str = ""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One reply, rendered per channel by its capabilities.

    Channels without buttons or lists (SMS, email) get them as numbered lines,
    and the gateway maps a guest's "2" back to the second choice.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    options: tuple[ListOption, ...] = ()
    options_label: str = ""  # the list's button label ("Ver horas" / "See times")
    image: Image | None = None
    attachments: tuple[Attachment, ...] = ()
    subject: str | None = None  # email only; a default is derived when absent
    sender: str | None = None  # the staff display name guests see (None: "the team")

    def __post_init__(self) -> None:
        if len(self.buttons) > MAX_BUTTONS:
            raise ValueError(f"at most {MAX_BUTTONS} buttons")
        if len(self.options) > MAX_OPTIONS:
            raise ValueError(f"at most {MAX_OPTIONS} list options")
        if self.buttons and self.options:
            raise ValueError("buttons or a list, not both")

    @property
    def choices(self) -> tuple[Button | ListOption, ...]:
        return self.buttons or self.options

    def numbered_text(self) -> str:
        """The text with any choices as numbered lines, for channels without buttons."""
        lines = [self.text] if self.text else []
        for n, choice in enumerate(self.choices, start=1):
            lines.append(f"{n}. {choice.title}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON form for the delivery queue (a send must survive a restart)."""
        return {
            "text": self.text,
            "buttons": [[b.id, b.title] for b in self.buttons],
            "options": [[o.id, o.title, o.description] for o in self.options],
            "options_label": self.options_label,
            "image": None
            if self.image is None
            else {
                "url": self.image.url,
                "data": _b64(self.image.data),
                "content_type": self.image.content_type,
                "caption": self.image.caption,
            },
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "data": _b64(a.data),
                    "inline": a.inline,
                    "content_id": a.content_id,
                }
                for a in self.attachments
            ],
            "subject": self.subject,
            "sender": self.sender,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> OutboundMessage:
        image = doc.get("image")
        return cls(
            text=doc["text"],
            buttons=tuple(Button(i, t) for i, t in doc.get("buttons", ())),
            options=tuple(ListOption(i, t, d) for i, t, d in doc.get("options", ())),
            options_label=doc.get("options_label", ""),
            image=None
            if image is None
            else Image(
                url=image["url"],
                data=_unb64(image["data"]),
                content_type=image["content_type"],
                caption=image["caption"],
            ),
            attachments=tuple(
                Attachment(
                    filename=a["filename"],
                    content_type=a["content_type"],
                    data=_unb64(a["data"]) or b"",
                    inline=a["inline"],
                    content_id=a["content_id"],
                )
                for a in doc.get("attachments", ())
            ),
            subject=doc.get("subject"),
            sender=doc.get("sender"),
        )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
