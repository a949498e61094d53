"""The console's live feed: ``GET /console/r/{slug}/live``, a WebSocket that the
sign-in cookie authenticates (same-origin sockets carry it), for host or above.

It is the API's live feed (``/v1/restaurants/{slug}/live``) behind the console's
session instead of a bearer token: the same per-process hub, the same catch-up
from the outbox. The page hands ``?since=`` the position its HTML was read at
(and, after a drop, the last position it saw complete), so nothing committed
in between is lost; when that cannot be replayed the first message is a
``snapshot`` and the page redraws the day.

Every frame is the feed's message JSON; the last message of an event's group
also carries ``"completes": true`` — the position to resume from.

Refusals: the socket is accepted and closed with 4401 (no live session),
4403 (a page of another site opened it: ``Origin`` is checked, as cookies would
otherwise let any site listen in) or 4404 (not a member of ``{slug}``, or no
role there). The session is re-checked every ``SAVEIT_LIVE_TOKEN_RECHECK_S``;
signing out or removal closes the socket with 4401. A slow client is dropped
with 1013 and reconnects with ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from saveit.accounts import StaffSession, enter_restaurant
from saveit.console.session import SESSION_COOKIE, cookie_name, services_of
from saveit.domain.model import Restaurant
from saveit.domain.schedule import local_today
from saveit.domain.views import ReservationView
from saveit.realtime import LiveHub, LiveMessage
from saveit.realtime.hub import SLOW
from saveit.realtime.messages import snapshot_message
from saveit.realtime.sockets import drain, send_all

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

Since = Annotated[int | None, Query(ge=0)]


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:  # not a browser: nothing to forge
        return True
    parts = urlsplit(origin)
    return parts.netloc == websocket.url.netloc and parts.scheme in {"http", "https"}


def _session(websocket: WebSocket, slug: str) -> StaffSession:
    token = websocket.cookies.get(cookie_name(websocket, SESSION_COOKIE))
    session = services_of(websocket).signin.session(token) if token else None
    if session is None or session.must_change_password:
        raise Refused(4401, "sign in again")
    if not session.may(slug, "host"):
        raise Refused(4404, "not found")
    return session


def _row(view: ReservationView, restaurant: Restaurant) -> dict[str, object]:
    tz = restaurant.tz
    return {
        "code": view.code,
        "status": view.status.value,
        "party_size": view.party_size,
        "start": view.start.astimezone(tz).isoformat(),
        "end": view.end.astimezone(tz).isoformat(),
        "tables": list(view.tables),
        "source": view.source,
        "version": view.version,
    }


def _initial(websocket: WebSocket, restaurant: Restaurant, since: int | None) -> list[LiveMessage]:
    services = services_of(websocket)
    caught = services.backlog(restaurant, since)
    if caught.replay is not None:
        return caught.replay
    day = local_today(restaurant, services.booking.clock())
    views = services.booking.list_for_day(restaurant.slug, day)
    rows = [_row(v, restaurant) for v in views]
    return [snapshot_message(restaurant.id, restaurant.slug, day, caught.head, rows)]


def _frame(message: LiveMessage) -> str:
    if message.completes and message.text.endswith("}"):
        return message.text[:-1] + ',"completes":true}'
    return message.text


@router.websocket("/console/r/{slug}/live")
async def console_live(websocket: WebSocket, slug: str, since: Since = None) -> None:
    await websocket.accept()
    hub: LiveHub | None = getattr(websocket.app.state, "live_hub", None)
    try:
        if not _same_origin(websocket):
            raise Refused(4403, "cross-site")
        session = await run_in_threadpool(_session, websocket, slug)
        membership = session.membership(slug)
        assert membership is not None
        # The catch-up reads this restaurant's rows (row-level security on PostgreSQL).
        enter_restaurant(membership.restaurant_id)
        if hub is None:
            raise Refused(1011, "the live feed is not running")
        services = services_of(websocket)
        restaurant = await run_in_threadpool(services.booking.restaurant, slug)
        sub = hub.subscribe(restaurant.id)
        try:
            first = await run_in_threadpool(_initial, websocket, restaurant, since)
        except BaseException:
            hub.unsubscribe(sub)
            raise
    except Refused as refused:
        with contextlib.suppress(Exception):
            await websocket.close(code=refused.code, reason=refused.reason)
        return
    except WebSocketDisconnect:
        return
    every_s = services.settings.live_token_recheck_s
    sender = asyncio.create_task(send_all(websocket, sub, first, _frame))
    receiver = asyncio.create_task(drain(websocket))
    watcher = asyncio.create_task(_recheck(websocket, slug, every_s))
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
    ended = watcher.exception() if watcher in done else None
    if isinstance(ended, Refused):
        code, reason = ended.code, ended.reason
    elif sub.reason == SLOW:
        code, reason = 1013, "too slow; reconnect with since"
    else:
        code, reason = 1001, ""
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)


async def _recheck(websocket: WebSocket, slug: str, every_s: float) -> None:
    """End with the refusal once the session ends or loses the restaurant; a
    database blip keeps the socket (it should not drop every screen at once)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await run_in_threadpool(_session, websocket, slug)
        except Refused:
            raise
        except Exception:
            log.warning("console live: could not re-check a session", exc_info=True)
