"""The server protocol sends a whole response in one write, and never holds bytes back
past the end of the loop pass that produced them.

The protocol runs on a real event loop with uvicorn's own configuration; the
transport under it records each write, as the socket would see one ``send`` each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from saveit.api.server_protocol import ServerProtocol

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
GET = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


class SocketSide(asyncio.Transport):
    """What the socket would be sent: one entry per write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def whole(scope: Scope, receive: Receive, send: Send) -> None:
    body = b'{"ok":true}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def streamed(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await asyncio.sleep(0.05)  # the first chunk comes in a later pass of the loop
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"second"})


def serve(app: Callable[..., Awaitable[None]], *requests: bytes) -> tuple[SocketSide, list[bytes]]:
    """Feed ``requests`` to one connection; what was written, and where each pass ended."""

    async def run() -> tuple[SocketSide, list[bytes]]:
        loop = asyncio.get_running_loop()
        config = Config(app=app, lifespan="off", log_level="warning", access_log=False)
        protocol = ServerProtocol(
            config=config, server_state=ServerState(), app_state={}, _loop=loop
        )
        socket = SocketSide()
        protocol.connection_made(socket)
        for request in requests:
            protocol.data_received(request)
        seen: list[bytes] = []
        for _ in range(40):
            await asyncio.sleep(0.01)
            seen.append(b"".join(socket.writes))
        protocol.connection_lost(None)
        return socket, seen

    return asyncio.run(run())


def test_a_whole_response_leaves_in_one_write() -> None:
    """Fails with uvicorn's protocol: the head and the body were two writes."""
    socket, _ = serve(whole, GET)
    assert len(socket.writes) == 1
    assert socket.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert socket.writes[0].endswith(b'\r\n\r\n{"ok":true}')


def test_keep_alive_responses_each_leave_in_one_write() -> None:
    socket, _ = serve(whole, GET, GET)
    assert len(socket.writes) == 2
    assert all(w.endswith(b'{"ok":true}') for w in socket.writes)


def test_a_streamed_response_is_not_held_back_for_its_next_chunk() -> None:
    """The head goes out at the end of its own pass, long before the first chunk."""
    socket, seen = serve(streamed, GET)
    sent = b"".join(socket.writes)
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert sent.endswith(b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n")
    head_only = [s for s in seen if s.startswith(b"HTTP/1.1 200 OK") and b"first" not in s]
    assert head_only, "the head waited for the body"


def test_closing_writes_what_is_held_first() -> None:
    """A malformed request is answered 400 and the connection closed: the answer is
    written before the close, not dropped with the held bytes."""
    socket, _ = serve(whole, b"NOT HTTP AT ALL\r\n\r\n")
    assert socket.closed
    assert b"".join(socket.writes).startswith(b"HTTP/1.1 400 Bad Request")
