"""The HTTP protocol ``saveit serve`` runs: bounded request heads, one write per response.

uvicorn's httptools protocol writes a response's status line and headers in one
``transport.write`` and its body in another. On a TCP socket each write is a
``send`` system call, and each goes out as its own segment (uvloop sets
``TCP_NODELAY``): for the small JSON answers this API gives, two packets, two
wake-ups of the client, and on loopback the receiving side's TCP work done
twice inside our process's call, holding the interpreter lock. It was a tenth
of an API process's interpreter time under the booking bench; with one write,
cached availability answers 11–22% more requests per second for 6–14% less CPU
each (``bench/README.md``).

:class:`CorkedTransport` holds a write back until the next one, or until the
end of the event loop's current pass, whichever comes first. A whole response
sent in one pass (headers, then the body) leaves in one ``send``; the headers
of a streamed response leave by the end of the pass that produced them, so
nothing waits on a later chunk. Closing writes what is held first. A WebSocket
upgrade hands the protocol that takes over the plain transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from saveit.api.header_limits import BoundedHttpToolsProtocol

_JOIN_LIMIT = 256 * 1024  # above this a body is written apart rather than copied once more


class CorkedTransport:
    """Wraps a transport so that two writes of one loop pass leave as one."""

    __slots__ = ("_held", "_loop", "raw")

    def __init__(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = raw
        self._held: bytes | None = None
        self._loop = loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._held = None
        if len(data) <= _JOIN_LIMIT:
            self.raw.write(held + data)
        else:
            self.raw.write(held)
            self.raw.write(data)

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(chunks))

    def flush(self) -> None:
        """Write what is held now (the end of the loop pass, or before a close)."""
        held, self._held = self._held, None
        if held is not None and not self.raw.is_closing():
            self.raw.write(held)

    def close(self) -> None:
        self.flush()
        self.raw.close()

    def write_eof(self) -> None:
        self.flush()
        self.raw.write_eof()

    def abort(self) -> None:
        self._held = None
        self.raw.abort()

    def is_closing(self) -> bool:
        return self.raw.is_closing()

    def __getattr__(self, name: str) -> Any:  # extra info, reading pauses, buffer sizes
        return getattr(self.raw, name)


class ServerProtocol(BoundedHttpToolsProtocol):
    """uvicorn's httptools protocol with bounded heads (:mod:`saveit.api.header_limits`)
    and one write per response (:class:`CorkedTransport`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CorkedTransport(transport, self.loop)  # type: ignore[assignment]

    def handle_websocket_upgrade(self) -> None:
        corked = self.transport
        if isinstance(corked, CorkedTransport):
            corked.flush()
            self.transport = corked.raw
        super().handle_websocket_upgrade()
