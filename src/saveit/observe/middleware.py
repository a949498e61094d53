"""One pure ASGI middleware for every HTTP request: its request id, and its metrics.

Pure ASGI (no ``BaseHTTPMiddleware``): a context variable, two clock reads, a
header appended to the response start and two metric updates by the route
*template* (``/v1/reservations/{code}``, never the raw path, so a scan of
random URLs cannot grow the label set).

The two metrics' children are looked up once per (method, route, status) and kept:
``labels()`` takes a lock and checks its arguments on every call, and on a cache
hit answered before routing that was a tenth of the request's own work.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saveit.observe import metrics
from saveit.observe.context import accepted_request_id, request_id

UNMATCHED = "<unmatched>"
_CHILDREN_MAX = 4_096  # (method, route, status) triples kept; methods and routes are few

_Children = tuple[Any, Any]  # (requests counter, duration histogram) of one triple
_children: dict[tuple[str, str, int], _Children] = {}


def _children_of(method: str, route: str, status: int) -> _Children:
    key = (method, route, status)
    found = _children.get(key)
    if found is None:
        if len(_children) >= _CHILDREN_MAX:
            _children.clear()
        found = (
            metrics.http_requests.labels(method, route, str(status)),
            metrics.http_duration.labels(method, route),
        )
        _children[key] = found
    return found


class Observe:
    def __init__(self, app: ASGIApp, *, count: bool = True) -> None:
        self.app = app
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = accepted_request_id(given)
        header = (b"x-request-id", rid.encode())
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            if self.count:
                requests, duration = _children_of(
                    scope["method"], _template(scope.get("route")), status
                )
                requests.inc()
                duration.observe(time.perf_counter() - started)


def _template(route: Any) -> str:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
