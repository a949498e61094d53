"""Request headers are bounded: total bytes and number of lines, else 431.

Two layers, because the server parses headers before the app sees them:

* :class:`HeaderLimit`, an ASGI guard, answers 431 problem+json whatever server
  runs the app (uvicorn with httptools or h11, hypercorn, the test client);
* :class:`BoundedHttpToolsProtocol`, uvicorn's httptools protocol with a ceiling
  on the bytes it buffers before the headers end, so a client cannot make the
  process hold megabytes of header lines (httptools itself has no limit; h11
  has ``h11_max_incomplete_event_size``, which ``saveit serve`` also sets, but
  answers 400).
"""

from __future__ import annotations

import json

import httptools
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from saveit.api.problems import problem

_LINE_OVERHEAD = 4  # ": " and CRLF


class _HeadersTooLarge(Exception):
    """Raised inside the parser's callback; httptools may wrap it in its own error."""


def header_size(headers: list[tuple[bytes, bytes]]) -> int:
    return sum(len(name) + len(value) + _LINE_OVERHEAD for name, value in headers)


def _detail(max_bytes: int, max_count: int) -> str:
    return f"Request headers are limited to {max_count} lines and {max_bytes} bytes"


class HeaderLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_count: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_count = max_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            headers = scope["headers"]
            if len(headers) > self.max_count or header_size(headers) > self.max_bytes:
                if scope["type"] == "websocket":  # refuse the handshake: the client sees 403
                    await send({"type": "websocket.close", "code": 1008})
                    return
                detail = _detail(self.max_bytes, self.max_count)
                await problem("HEADERS_TOO_LARGE", detail)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Stops reading a request whose head (request line and headers) passes
    ``config.h11_max_incomplete_event_size`` bytes or ``max_header_count`` lines."""

    def __init__(self, *args: object, max_header_count: int = 100, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.max_header_count = max_header_count
        self._in_head = True
        self._head_bytes = 0
        self._head_lines = 0
        self._too_large = False

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            limit = self.config.h11_max_incomplete_event_size
            # Body bytes may share the head's last packet: allow one more read's worth.
            if limit is not None and self._head_bytes > limit + 65536:
                self._refuse()
                return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, _HeadersTooLarge):
            if self._too_large:
                self._refuse()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_lines = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_lines += 1
        limit = self.config.h11_max_incomplete_event_size
        total = header_size(self.headers) + len(name) + len(value) + _LINE_OVERHEAD
        if self._head_lines > self.max_header_count or (limit is not None and total > limit):
            self._too_large = True
            raise _HeadersTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_response_complete()

    def _refuse(self) -> None:
        limit = self.config.h11_max_incomplete_event_size or 0
        body = json.dumps(
            {
                "type": "urn:saveit:problem:headers-too-large",
                "title": "Headers too large",
                "status": 431,
                "detail": _detail(limit, self.max_header_count),
                "code": "HEADERS_TOO_LARGE",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
