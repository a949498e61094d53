"""The web chat's routes: the guest WebSocket, the widget script and a demo page.

* ``GET /widget.js`` — the embeddable widget. A restaurant adds one tag::

      <script src="https://<saveit host>/widget.js" data-restaurant="<slug>"
              data-lang="es" async></script>

  It is served with an ``ETag`` and ``Cache-Control: public, max-age=3600``:
  every visitor of every restaurant site loads it, so browsers and CDNs should
  keep it, yet the URL is unversioned (restaurants never change their tag), so
  a fix must still reach them within the hour.
* ``WS /ws/chat/{slug}`` — the guest's socket; the protocol and the session
  scheme are in :mod:`saveit.channels.webchat.protocol`. The widget offers the
  subprotocols ``saveit.chat`` and ``saveit.session.<token>``: the session token
  travels in the ``Sec-WebSocket-Protocol`` header, never in the URL (access
  logs, proxies), and the server answers ``saveit.chat``. An unknown
  restaurant is accepted and closed with 4404 (a browser never sees the status
  of a refused handshake); a subscriber dropped as slow by the live hub is
  closed with 1013, and the widget reconnects and restores from history.
* ``GET /chat/{slug}`` — a minimal page that embeds the widget, for the demo
  and the browser tests (``?lang=es|en``).

Database work (storing, history, loading a message to push) runs on AnyIO's
thread pool, never on the event loop. Each socket has a reader and a pusher
task; one lock serialises them (store + ack, or event + push), so an ack and
the typing indicator always precede the reply they announce, and the session
knows a message is its own before that message's events are looked at.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
from functools import cache
from importlib import resources
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response

from saveit.bootstrap import Container
from saveit.channels.webchat import protocol as chat
from saveit.channels.webchat.session import ChatSession, FrameBudget
from saveit.domain import errors
from saveit.domain.model import Restaurant
from saveit.realtime import LiveHub, Subscription
from saveit.realtime.hub import SLOW

router = APIRouter(tags=["webchat"])
log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0
WIDGET_MAX_AGE_S = 3600
CLOSE_NOT_FOUND = 4404
CLOSE_UNAVAILABLE = 1011
CLOSE_SLOW = 1013
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
# Guest messages (database writes, bot turns) and all frames, per connection.
MESSAGE_BURST, MESSAGES_PER_S = 10, 0.5
FRAME_BURST, FRAMES_PER_S = 40, 5.0


@cache
def _widget() -> tuple[bytes, str]:
    data = resources.files("saveit").joinpath("web/widget.js").read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@router.get("/widget.js", include_in_schema=False)
def widget_js(request: Request) -> Response:
    data, etag = _widget()
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={WIDGET_MAX_AGE_S}",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="text/javascript; charset=utf-8", headers=headers)


_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
<link rel="icon" href="data:,">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; padding: 2rem 1.25rem;
  color: #1f2328; background: #f6f7f9; }}
main {{ max-width: 40rem; margin: 0 auto; }}
</style>
</head>
<body>
<main>
<h1>{name}</h1>
<p>{blurb}</p>
</main>
<script src="/widget.js" data-restaurant="{slug}" data-lang="{lang}" async></script>
</body>
</html>
"""
_BLURB = {
    "es": "Escríbenos desde el botón de chat para reservar o preguntar lo que quieras.",
    "en": "Write to us with the chat button to book or ask anything.",
}
# The page needs only itself: its own script and socket, the widget's styles, images.
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

Lang = Annotated[str | None, Query(pattern="^(es|en)$", description="The widget's language.")]


@router.get("/chat/{slug}", include_in_schema=False, response_class=HTMLResponse)
def demo_page(request: Request, slug: str, lang: Lang = None) -> HTMLResponse:
    container: Container = request.app.state.container
    restaurant = container.booking.restaurant(slug)  # NotFound -> 404 problem
    chosen = lang or "es"
    page = _PAGE.format(
        lang=chosen,
        name=html.escape(restaurant.name),
        slug=html.escape(restaurant.slug, quote=True),
        blurb=html.escape(_BLURB[chosen]),
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": _PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


# --- the socket --------------------------------------------------------------------


def _restaurant(container: Container, slug: str) -> Restaurant | None:
    try:
        return container.booking.restaurant(slug)
    except errors.NotFound:
        return None


class _Socket:
    """Writes to one socket, one at a time; a client that stops reading is dropped."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.lock = asyncio.Lock()

    async def send(self, *frames: str) -> None:
        async with self.lock:
            await self.write(*frames)

    async def write(self, *frames: str) -> None:
        """Send while already holding ``lock``."""
        for frame in frames:
            await asyncio.wait_for(self.websocket.send_text(frame), SEND_TIMEOUT_S)


@router.websocket("/ws/chat/{slug}")
async def chat_socket(websocket: WebSocket, slug: str) -> None:
    """Admit the socket within the per-IP caps (:mod:`saveit.ratelimit.abuse`): a new
    session over the hourly cap is refused at the handshake; a socket over the
    open-sockets cap is closed with 1008 (policy violation). The session token
    comes as a subprotocol, never in the URL (see ``chat.offered_session``)."""
    container: Container = websocket.app.state.container
    abuse = container.abuse
    ip = websocket.client.host if websocket.client else None
    session, subprotocol = chat.offered_session(websocket.scope.get("subprotocols", ()))
    fresh = not chat.valid_session(session)
    if fresh and not await anyio.to_thread.run_sync(abuse.allow_chat_session, ip):
        await websocket.close(code=CLOSE_POLICY, reason="too many new chats")  # no handshake
        return
    if not abuse.open_chat(ip):
        await websocket.accept(subprotocol=subprotocol)
        await websocket.close(code=CLOSE_POLICY, reason="too many open chats")
        return
    try:
        await _chat(websocket, slug, session, subprotocol, ip)
    finally:
        abuse.close_chat(ip)


async def _chat(
    websocket: WebSocket,
    slug: str,
    session: str | None,
    subprotocol: str | None,
    ip: str | None,
) -> None:
    await websocket.accept(subprotocol=subprotocol)
    container: Container = websocket.app.state.container
    hub: LiveHub | None = getattr(websocket.app.state, "live_hub", None)
    if hub is None:
        await websocket.close(code=CLOSE_UNAVAILABLE, reason="web chat unavailable")
        return
    restaurant = await anyio.to_thread.run_sync(_restaurant, container, slug)
    if restaurant is None:
        await websocket.close(code=CLOSE_NOT_FOUND, reason="no such restaurant")
        return
    token = session if session is not None and chat.valid_session(session) else chat.new_session()
    secret = container.settings.secret_key.get_secret_value().encode()
    guest = ChatSession(
        container.gateway,
        restaurant_id=restaurant.id,
        slug=restaurant.slug,
        identity=chat.identity_of(secret, token),
        client_ip=ip,
    )
    out = _Socket(websocket)
    # Subscribe before reading the history: a reply committed in between is in
    # both, and the session drops the second copy by its public id.
    sub = hub.subscribe(restaurant.id)
    try:
        try:
            views, waiting = await anyio.to_thread.run_sync(guest.history)
            frames = [
                chat.session_frame(token, restaurant.slug, restaurant.name),
                chat.history_frame(views),
            ]
            if waiting:
                frames.append(chat.typing_frame(True))
            await out.send(*frames)
        except (WebSocketDisconnect, TimeoutError):
            return
        pusher = asyncio.create_task(_push(out, sub, guest))
        reader = asyncio.create_task(_read(websocket, out, guest))
        done, pending = await asyncio.wait({pusher, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        broken = False
        for task in done:
            exc = task.exception()
            if exc is None or isinstance(exc, WebSocketDisconnect):
                continue
            if not isinstance(exc, TimeoutError):  # a client not reading is not our fault
                log.error("webchat: connection to %s failed", slug, exc_info=exc)
            broken = True
    finally:
        hub.unsubscribe(sub)
    if broken:
        # The widget reconnects with backoff and restores what it missed from history.
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_UNAVAILABLE, reason="try again")
        return
    if sub.reason is not None:
        slow = sub.reason == SLOW
        code, reason = (CLOSE_SLOW, "too slow; reconnect") if slow else (CLOSE_GOING_AWAY, "")
        with contextlib.suppress(Exception):
            await websocket.close(code=code, reason=reason)


async def _push(out: _Socket, sub: Subscription, guest: ChatSession) -> None:
    """The restaurant's live messages, filtered down to this guest's."""
    while (message := await sub.next()) is not None:
        if not message.type.startswith("message."):
            continue
        # Under the socket's lock: never alongside the reader storing a message,
        # whose pending id this event may be about.
        async with out.lock:
            frames = await anyio.to_thread.run_sync(guest.on_event, message.text)
            if frames:
                await out.write(*frames)


async def _read(websocket: WebSocket, out: _Socket, guest: ChatSession) -> None:
    messages = FrameBudget(MESSAGE_BURST, MESSAGES_PER_S)
    frames = FrameBudget(FRAME_BURST, FRAMES_PER_S)
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        text, data = received.get("text"), received.get("bytes")
        try:
            if not frames.take():
                raise chat.ProtocolError("RATE_LIMITED", "Too many frames; slow down")
            frame = chat.parse_frame(text, data)
            if isinstance(frame, chat.SendText | chat.SendChoice) and not messages.take():
                raise chat.ProtocolError("RATE_LIMITED", "Too many messages; slow down", frame.id)
        except chat.ProtocolError as exc:
            await out.send(chat.error_frame(exc.code, exc.detail, exc.client_id))
            continue
        if isinstance(frame, chat.Ping):
            await out.send(chat.PONG)
            continue
        if isinstance(frame, chat.Typing):
            continue
        # Pushes wait while a message is stored, so its ack and the typing
        # indicator always reach the widget before the reply does.
        async with out.lock:
            try:
                done = await anyio.to_thread.run_sync(guest.receive, frame, text or "")
            except chat.ProtocolError as exc:
                await out.write(chat.error_frame(exc.code, exc.detail, exc.client_id))
                continue
            except Exception:  # the database is away: the widget keeps the message, resends
                log.exception("webchat: storing a message for %s failed", guest.slug)
                await out.write(
                    chat.error_frame("UNAVAILABLE", "Could not store the message; retry", frame.id)
                )
                continue
            replies = [chat.ack_frame(frame.id, duplicate=done.duplicate)]
            if not done.duplicate:
                replies.append(chat.typing_frame(True))
            await out.write(*replies)
