"""A restaurant's live feed: WebSocket, with Server-Sent Events as the fallback.

Both take a staff bearer token (host role or above, or the admin token), never
in the URL (URLs end up in access logs, proxies and browser history):

* WebSocket: the ``Authorization: Bearer`` header where the client can set one,
  otherwise (browsers cannot) the first frame, within ``AUTH_TIMEOUT_S``::

      {"type": "auth", "token": "<staff token>"}

* SSE: the ``Authorization`` header only. A browser's ``EventSource`` cannot
  send one; browsers use the WebSocket (or ``fetch`` with a streamed body).

Both resume from a position: ``?since=`` on the WebSocket, ``Last-Event-ID``
(or ``?since=``) on SSE, where every event's ``id:`` is its position. Without
one, or when the position cannot be replayed, the first message is a
``snapshot`` of the day (``?date=``, default the restaurant's today).

An open WebSocket re-checks its token every ``SAVEIT_LIVE_TOKEN_RECHECK_S``: a
revoked or expired token's sockets close with 4401. An SSE stream ends by
itself within ``SSE_MAX_AGE_S`` and must authenticate again to resume.

A refused WebSocket is accepted and then closed with 4401 (no or bad token),
4403 (wrong restaurant or role) or 4404 (no such restaurant), because a browser
never sees the HTTP status of a failed handshake; a dropped slow client gets
1013 and reconnects with ``since``. SSE refusals are ordinary problem+json.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from saveit.api.auth import principal_of
from saveit.api.responses import reservation
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.model import Restaurant
from saveit.domain.schedule import local_today
from saveit.realtime import LiveHub, LiveMessage, Subscription
from saveit.realtime.backlog import catch_up
from saveit.realtime.hub import SLOW
from saveit.realtime.messages import snapshot_message
from saveit.realtime.sockets import Outgoing, drain, send_all

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

REPLAY_LIMIT = 1000
SSE_HEARTBEAT_S = 15.0
SSE_MAX_AGE_S = 30.0
AUTH_TIMEOUT_S = 10.0
_CLOSE = {errors.Unauthorized: 4401, errors.Forbidden: 4403, errors.NotFound: 4404}

Since = Annotated[int | None, Query(ge=0, description="Last position seen (outbox id).")]
Day = Annotated[dt.date | None, Query(description="Snapshot day; default the local today.")]


def _header_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    raise errors.Unauthorized("Use 'Authorization: Bearer <token>'")


async def _socket_token(websocket: WebSocket) -> str:
    """The header's token, or the one in the client's first frame."""
    token = _header_token(websocket)
    if token is not None:
        return token
    try:
        received = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        raise errors.Unauthorized('Send {"type": "auth", "token": …} first') from None
    if received["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(received.get("code", 1000))
    try:
        frame = json.loads(received.get("text") or "")
    except ValueError:
        frame = None
    token = frame.get("token") if isinstance(frame, dict) and frame.get("type") == "auth" else None
    if not isinstance(token, str) or not token:
        raise errors.Unauthorized('The first frame must be {"type": "auth", "token": …}')
    return token


def _check_token(conn: HTTPConnection, token: str, slug: str) -> None:
    """Refuse unless ``token`` is the admin's or a live host-or-above token of ``slug``."""
    if not principal_of(conn, token).may(slug, "host"):
        raise errors.Forbidden(f"This needs the host role at '{slug}'", role="host")


def _authorise(conn: HTTPConnection, token: str, slug: str) -> Restaurant:
    """The restaurant, if ``token`` may watch it."""
    _check_token(conn, token, slug)
    container: Container = conn.app.state.container
    return container.booking.restaurant(slug)


def _initial(
    container: Container, restaurant: Restaurant, since: int | None, day: dt.date | None
) -> list[LiveMessage]:
    """What a client gets first: the events it missed, or a snapshot of the day."""
    caught = catch_up(container.engine, restaurant, since, limit=REPLAY_LIMIT)
    if caught.replay is not None:
        return caught.replay
    day = day or local_today(restaurant, container.booking.clock())
    # A replica may serve the snapshot only once it holds every event up to ``head``.
    position = container.replica.primary_position() if container.replica else None
    views = container.booking.list_for_day(restaurant.slug, day, caught_up_to=position)
    rows = [reservation(v, restaurant.tz).model_dump() for v in views]
    return [snapshot_message(restaurant.id, restaurant.slug, day, caught.head, rows)]


def _hub(conn: HTTPConnection) -> LiveHub:
    hub: LiveHub | None = getattr(conn.app.state, "live_hub", None)
    if hub is None:  # the lifespan always sets it: reaching this is a bug
        raise RuntimeError("the live hub is not running")
    return hub


async def _open(
    conn: HTTPConnection, slug: str, token: str, since: int | None, day: dt.date | None
) -> tuple[Subscription, list[LiveMessage], LiveHub]:
    """Authorise, subscribe (live messages queue from now), then read the catch-up."""
    container: Container = conn.app.state.container
    hub = _hub(conn)
    restaurant = await run_in_threadpool(_authorise, conn, token, slug)
    sub = hub.subscribe(restaurant.id)
    try:
        first = await run_in_threadpool(_initial, container, restaurant, since, day)
    except BaseException:
        hub.unsubscribe(sub)
        raise
    return sub, first, hub


@router.websocket("/v1/restaurants/{slug}/live")
async def live_websocket(
    websocket: WebSocket,
    slug: str,
    since: Since = None,
    date: Day = None,
) -> None:
    await websocket.accept()
    try:
        token = await _socket_token(websocket)
        sub, first, hub = await _open(websocket, slug, token, since, date)
    except WebSocketDisconnect:
        return
    except errors.DomainError as exc:
        await websocket.close(code=_CLOSE.get(type(exc), 1011), reason=exc.detail[:120])
        return
    container: Container = websocket.app.state.container
    sender = asyncio.create_task(send_all(websocket, sub, first))
    receiver = asyncio.create_task(drain(websocket))
    watcher = asyncio.create_task(
        _recheck(websocket, token, slug, container.settings.live_token_recheck_s)
    )
    try:
        done, _ = await asyncio.wait(
            {sender, receiver, watcher}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        hub.unsubscribe(sub)
        for task in (sender, receiver, watcher):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    refused = watcher.exception() if watcher in done else None
    if isinstance(refused, errors.DomainError):
        with contextlib.suppress(Exception):
            await websocket.close(code=_CLOSE.get(type(refused), 4401), reason=refused.detail[:120])
        return
    if sub.reason is not None:
        slow = sub.reason == SLOW
        code, reason = (1013, "too slow; reconnect with since") if slow else (1001, "")
        with contextlib.suppress(Exception):
            await websocket.close(code=code, reason=reason)


async def _recheck(conn: HTTPConnection, token: str, slug: str, every_s: float) -> None:
    """Raise the refusal once ``token`` is revoked or expired (or loses the restaurant).

    Anything else going wrong (the database away for a moment) keeps the socket:
    a blip should not drop every dashboard at once."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await run_in_threadpool(_check_token, conn, token, slug)
        except errors.DomainError as exc:
            if isinstance(exc, errors.Unauthorized | errors.Forbidden | errors.NotFound):
                raise
            log.warning("live: could not re-check a token: %s", exc.detail)
        except Exception:
            log.warning("live: could not re-check a token", exc_info=True)


@router.get(
    "/v1/restaurants/{slug}/live/sse",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: ``data:`` lines of the live messages",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def live_sse(
    request: Request,
    slug: str,
    since: Since = None,
    date: Day = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    token = _header_token(request)
    if token is None:
        raise errors.Unauthorized("This needs a staff token in 'Authorization: Bearer <token>'")
    if last_event_id and last_event_id.strip().isdigit():
        since = int(last_event_id.strip())
    sub, first, hub = await _open(request, slug, token, since, date)
    return StreamingResponse(
        _sse(sub, first, hub),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(sub: Subscription, first: list[LiveMessage], hub: LiveHub) -> AsyncIterator[str]:
    """``id:`` is the position, so the browser's automatic reconnect resumes by itself.

    A slow or shut-down subscription ends the stream, and so does age
    (``SSE_MAX_AGE_S``): the server waits for open responses on a graceful
    shutdown, and an endless stream would hold it up until killed. The browser
    reconnects with ``Last-Event-ID`` and misses nothing.
    """
    out = Outgoing(sub, first)
    ends = time.monotonic() + SSE_MAX_AGE_S
    try:
        yield "retry: 1000\n\n"
        while (left := ends - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(out.next(), min(SSE_HEARTBEAT_S, left))
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if message is None:
                return
            # Only an event's last message carries the id: a stream cut inside an
            # event's group resumes before that event, so none of it is lost.
            event_id = f"id: {message.position}\n" if message.completes else ""
            yield f"{event_id}data: {message.text}\n\n"
    finally:
        hub.unsubscribe(sub)
