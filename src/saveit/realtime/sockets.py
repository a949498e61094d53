"""Sending a live subscription down a WebSocket: shared by the API's live feed
(bearer tokens) and the console's (session cookie), which differ only in who
may open them and how each frame is written."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from saveit.realtime.hub import SLOW, Subscription
from saveit.realtime.messages import LiveMessage

SEND_TIMEOUT_S = 5.0


class Outgoing:
    """The catch-up, then live messages minus those the catch-up already held."""

    def __init__(self, sub: Subscription, first: list[LiveMessage]) -> None:
        self.sub = sub
        self._first = list(reversed(first))
        self._replayed = {m.event_id for m in first if m.event_id}

    async def next(self) -> LiveMessage | None:
        """The next message; None once the subscription is closed (see its ``reason``)."""
        if self._first:
            return self._first.pop()
        while (message := await self.sub.next()) is not None:
            if message.event_id not in self._replayed:
                return message
        return None


def as_text(message: LiveMessage) -> str:
    return message.text


async def send_all(
    websocket: WebSocket,
    sub: Subscription,
    first: list[LiveMessage],
    frame: Callable[[LiveMessage], str] = as_text,
) -> None:
    """Send until the subscription closes; a client that cannot take a frame within
    ``SEND_TIMEOUT_S`` is dropped as slow (it reconnects with ``since``)."""
    out = Outgoing(sub, first)
    while (message := await out.next()) is not None:
        try:
            await asyncio.wait_for(websocket.send_text(frame(message)), SEND_TIMEOUT_S)
        except TimeoutError:
            sub.close(SLOW)
            return


async def drain(websocket: WebSocket) -> None:
    """Read (and ignore) client frames, only to notice the client leaving."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
