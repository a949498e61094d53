"""The web chat channel: chat sessions, our small JSON protocol, and one guest's view.

The web chat has no provider, so this module is both the "adapter" (turning a
widget's frame into an :class:`~saveit.domain.messages.InboundMessage`) and the
"sender" side (turning a stored outbound message into a frame); the routes in
``saveit.api.routers.webchat`` only move frames between a socket and a
:class:`ChatSession`.

Sessions
--------
A chat session is an unguessable token the server issues
(``secrets.token_urlsafe(24)``: 32 URL-safe characters, 192 bits). The widget
keeps it in ``localStorage`` per restaurant and presents it when it
(re)connects as a WebSocket subprotocol, ``saveit.session.<token>``, next to
``saveit.chat`` (the one the server selects): a header, so the token stays out
of URLs and the access logs that record them. The token itself is never stored:
the guest's channel identity is ``("webchat", "wc_" + HMAC-SHA256(secret_key,
token)[:32])``, so a copy of the database (or a staff screen showing the
identity) does not let anyone impersonate a guest. Rotating ``SAVEIT_SECRET_KEY``
therefore starts every web chat guest afresh. A missing or malformed token gets
a new one; a well-formed token the server never issued is simply a new guest
(it can only reach its own conversation, and guessing someone else's is a
2^192 search). The socket carries no cookie and checks no ``Origin``: the
widget runs on restaurants' own sites, and the token is the only credential.

Protocol (JSON text frames, one object each)
--------------------------------------------
Client -> server (frames over ``MAX_FRAME_BYTES`` or not one of these get an
``error`` frame; the connection stays open)::

    {"type": "message", "id": "<client id>", "text": "..."}     # 1..MAX_TEXT chars
    {"type": "choice",  "id": "<client id>", "choice": {"id": "...", "title": "..."}}
    {"type": "typing"}                                          # the guest is typing
    {"type": "ping"}                                            # keep-alive -> pong

``id`` is the widget's own id for the message (a UUID; 1-64 of
``[A-Za-z0-9_-]``). It is the deduplication key, scoped to the session
(``provider_message_id = f"{identity}:{id}"``), so a widget that resends after a
lost acknowledgement stores its message once and two guests can never collide.
``typing`` is accepted and not forwarded yet (the staff view has no use for it).

Server -> client::

    {"type": "session", "session": "<token>", "restaurant": {"slug", "name"}}  # first
    {"type": "history", "messages": [<message>, ...]}   # second: the latest HISTORY_LIMIT
    {"type": "message", "message": <message>}           # each new message to this guest
    {"type": "ack", "id": "<client id>", "duplicate": false}   # stored (or stored before)
    {"type": "typing", "active": true|false}            # the bot is preparing an answer
    {"type": "error", "code": "...", "detail": "...", "id": "<client id or null>"}
    {"type": "pong"}

A ``<message>`` is ``{"id", "direction": "in"|"out", "channel", "author"
("guest" | "bot" | "staff" | "staff:<display name>"), "text", "at", "status"}``
plus, inbound,
``"choice"`` (the tapped quick reply or null) and ``"client_id"`` (the widget's
id, for messages this session sent: it reconciles its unacknowledged ones), and
outbound ``"buttons": [{"id", "title"}]``, ``"options": [{"id", "title",
"description"}]``, ``"options_label"`` and ``"image"`` (``{"url", "caption"}``
or null). Texts are plain text: the widget must never render them as HTML.

``typing`` turns on when a message is stored and off when the bot has finished
its turn without a reply; an outbound ``message`` ends it implicitly.

How messages reach the guest
----------------------------
Inbound frames go through :meth:`Gateway.receive` like any provider's webhook:
stored first (the ``ack`` means durable), answered behind the acknowledgement
by the channel workers. Outbound, the web chat's sender only marks a message
sent, and the ``message.sent`` event it emits travels the event stream that
every API process tails (:mod:`saveit.realtime`); each connection listens to its
restaurant's events and pushes the ones for its guest, loading the message by
its public id. That is what makes a reply reach a widget connected to another
process than the one that answered.

Which events are this guest's: those of its conversation. A brand-new guest has
no conversation until the first message is answered, and a linked guest's
conversation may change, so the conversation id is learnt from the
``message.received`` event of a message this connection stored (its public id
is known from the store). Until a conversation is known, webchat events are
checked by loading the message and comparing its address with the session's
identity (one primary-key lookup each).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from saveit.domain.messages import (
    ChannelName,
    Choice,
    OutboundMessage,
)
from saveit.store import messages as store

CHANNEL: ChannelName = "webchat"
MAX_TEXT = 2000  # characters of one guest message
MAX_FRAME_BYTES = 8 * 1024  # one client frame, UTF-8 encoded
MAX_CHOICE_FIELD = 200  # a quick reply's id or title as the widget echoes it back
HISTORY_LIMIT = 50
MAX_INLINE_IMAGE = 256 * 1024  # bigger inline images are left out of frames
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

CHAT_SUBPROTOCOL = "saveit.chat"
SESSION_SUBPROTOCOL = "saveit.session."

_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# --- sessions ------------------------------------------------------------------------


def new_session() -> str:
    return secrets.token_urlsafe(24)


def valid_session(token: str | None) -> bool:
    return token is not None and _TOKEN.fullmatch(token) is not None


def offered_session(subprotocols: Iterable[str]) -> tuple[str | None, str | None]:
    """The session token the client offered (``saveit.session.<token>``), and the
    subprotocol to answer with (``saveit.chat`` if offered)."""
    offered = list(subprotocols)
    token = next(
        (p[len(SESSION_SUBPROTOCOL) :] for p in offered if p.startswith(SESSION_SUBPROTOCOL)),
        None,
    )
    return token, CHAT_SUBPROTOCOL if CHAT_SUBPROTOCOL in offered else None


def identity_of(secret: bytes, token: str) -> str:
    """The guest's external id on the web chat: derived, so the token is never stored."""
    digest = hmac.new(secret, f"webchat-session:{token}".encode(), hashlib.sha256)
    return "wc_" + digest.hexdigest()[:32]


# --- client frames -------------------------------------------------------------------


class ProtocolError(ValueError):
    """A frame we cannot act on: answered with an ``error`` frame, never a crash."""

    def __init__(self, code: str, detail: str, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id


@dataclass(frozen=True, slots=True)
class SendText:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class SendChoice:
    id: str
    choice: Choice


@dataclass(frozen=True, slots=True)
class Typing:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientFrame = SendText | SendChoice | Typing | Ping


def parse_frame(text: str | None, data: bytes | None = None) -> ClientFrame:
    """One client frame, validated; raises :class:`ProtocolError` with a stable code."""
    if text is None:
        if data is not None and len(data) > MAX_FRAME_BYTES:
            raise ProtocolError("FRAME_TOO_LARGE", f"Frames are at most {MAX_FRAME_BYTES} bytes")
        raise ProtocolError("BAD_FRAME", "Frames are JSON text, not binary")
    if len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "replace")) > MAX_FRAME_BYTES:
        raise ProtocolError("FRAME_TOO_LARGE", f"Frames are at most {MAX_FRAME_BYTES} bytes")
    try:
        doc = json.loads(text)
    except ValueError:
        raise ProtocolError("BAD_FRAME", "A frame is one JSON object") from None
    if not isinstance(doc, dict):
        raise ProtocolError("BAD_FRAME", "A frame is one JSON object")
    kind = doc.get("type")
    if kind == "typing":
        return Typing()
    if kind == "ping":
        return Ping()
    if kind not in ("message", "choice"):
        raise ProtocolError("UNKNOWN_TYPE", "type is one of message, choice, typing, ping")
    client_id = doc.get("id")
    if not isinstance(client_id, str) or _CLIENT_ID.fullmatch(client_id) is None:
        raise ProtocolError("BAD_ID", "id is 1-64 letters, digits, '-' or '_'")
    if kind == "message":
        body = doc.get("text")
        if not isinstance(body, str) or not body.strip():
            raise ProtocolError("BAD_TEXT", "text is a non-empty string", client_id)
        if len(body) > MAX_TEXT:
            raise ProtocolError(
                "TEXT_TOO_LONG", f"A message is at most {MAX_TEXT} characters", client_id
            )
        _no_nul(body, client_id)
        return SendText(client_id, body)
    picked = doc.get("choice")
    if not isinstance(picked, dict):
        raise ProtocolError("BAD_CHOICE", "choice is an object with id and title", client_id)
    choice = Choice(
        _choice_field(picked.get("id"), client_id), _choice_field(picked.get("title"), client_id)
    )
    return SendChoice(client_id, choice)


def _choice_field(value: object, client_id: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_CHOICE_FIELD:
        raise ProtocolError(
            "BAD_CHOICE",
            f"choice id and title are strings of 1-{MAX_CHOICE_FIELD} characters",
            client_id,
        )
    _no_nul(value, client_id)
    return value


def _no_nul(value: str, client_id: str) -> None:
    # PostgreSQL text cannot hold NUL; the HTTP body guard does not see WebSocket frames.
    if "\x00" in value:
        raise ProtocolError("BAD_TEXT", "Text may not contain NUL characters", client_id)


# --- server frames -------------------------------------------------------------------


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def session_frame(token: str, slug: str, name: str) -> str:
    return _dumps({"type": "session", "session": token, "restaurant": {"slug": slug, "name": name}})


def history_frame(views: list[dict[str, Any]]) -> str:
    return _dumps({"type": "history", "messages": views})


def message_frame(view: dict[str, Any]) -> str:
    return _dumps({"type": "message", "message": view})


def ack_frame(client_id: str, *, duplicate: bool) -> str:
    return _dumps({"type": "ack", "id": client_id, "duplicate": duplicate})


def typing_frame(active: bool) -> str:
    return _dumps({"type": "typing", "active": active})


def error_frame(code: str, detail: str, client_id: str | None = None) -> str:
    return _dumps({"type": "error", "code": code, "detail": detail, "id": client_id})


PONG = _dumps({"type": "pong"})


def view_of(message: store.StoredMessage, identity: str) -> dict[str, Any]:
    """How the widget sees one stored message (see the module's protocol notes)."""
    view: dict[str, Any] = {
        "id": message.public_id,
        "direction": message.direction,
        "channel": message.channel,
        "author": message.author,
        "text": message.text,
        "at": message.created_at.isoformat(),
        "status": message.status,
    }
    if message.direction == "in":
        chosen = message.body.get("choice")
        view["choice"] = (
            {"id": str(chosen.get("id", "")), "title": str(chosen.get("title", ""))}
            if isinstance(chosen, dict)
            else None
        )
        prefix = f"{identity}:"
        provider_id = message.provider_message_id or ""
        if message.channel == CHANNEL and provider_id.startswith(prefix):
            view["client_id"] = provider_id[len(prefix) :]
        return view
    try:
        outbound = message.outbound
    except (KeyError, TypeError, ValueError):  # not an OutboundMessage document: text only
        outbound = OutboundMessage(text=message.text)
    if message.author.startswith("staff:"):
        # The author column names the staff token's holder for the audit; the guest
        # sees the token's display name, or a neutral "staff" the widget translates.
        view["author"] = f"staff:{outbound.sender}" if outbound.sender else "staff"
    view.update(
        text=outbound.text,
        buttons=[{"id": b.id, "title": b.title} for b in outbound.buttons],
        options=[
            {"id": o.id, "title": o.title, "description": o.description} for o in outbound.options
        ],
        options_label=outbound.options_label,
        image=_image(outbound),
    )
    return view


def _image(message: OutboundMessage) -> dict[str, str] | None:
    """An image the widget can show: a public https URL, or small inline bytes as a data URL."""
    image = message.image
    if image is None:
        return None
    if image.url and image.url.startswith(("https://", "http://")):
        return {"url": image.url, "caption": image.caption}
    if (
        image.data is not None
        and image.content_type in INLINE_IMAGE_TYPES
        and len(image.data) <= MAX_INLINE_IMAGE
    ):
        encoded = base64.b64encode(image.data).decode("ascii")
        return {"url": f"data:{image.content_type};base64,{encoded}", "caption": image.caption}
    return None
