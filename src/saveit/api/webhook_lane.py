"""Provider webhooks answered before routing.

A webhook burst is the API's busiest write: a provider sends each guest message
as it comes, and waits for the acknowledgement. Routing one through FastAPI —
matching the path against every route, solving the endpoint's dependencies,
serialising the answer — cost about a quarter of the interpreter's time on the
acknowledgement path (``bench/webhooks.py``, py-spy). This pure ASGI middleware
sits innermost, behind every guard (request id and metrics, header and body
limits, the catch-all), so a webhook it answers passed them all exactly as the
routed endpoint's would have, and it answers through the same function
(:func:`saveit.api.routers.webhooks.acknowledge`).

Its errors are answered by the app's own exception handlers (a bad signature,
a malformed body, a database that is away: the same problem documents as the
routed endpoint's); anything they do not know goes on to the catch-all. The
routes stay registered for everything else: the subscription handshakes, the
OpenAPI document, and a path spelled any other way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from saveit.api.routers import webhooks


class WebhookLane:
    def __init__(
        self,
        app: ASGIApp,
        *,
        container: Any,
        handlers: Mapping[Any, Callable[[Request, Exception], Any]],
    ) -> None:
        """``handlers``: the app's exception handlers (``app.exception_handlers``),
        looked up by the exception's class and its bases, as Starlette does."""
        self.app = app
        self.container = container
        self.handlers = handlers
        self.routes = webhooks.post_routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self.routes.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        hook, route = found
        scope["route"] = route  # as routing would: the metrics label it by its template
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive)
        try:
            response = await webhooks.acknowledge(request, self.container, hook)
        except Exception as exc:
            response = await self._problem(request, exc)
        await response(scope, receive, send)

    async def _problem(self, request: Request, exc: Exception) -> Response:
        for kind in type(exc).__mro__:
            if kind is Exception:  # Starlette leaves that one to the server-error layer
                break
            handler = self.handlers.get(kind)
            if handler is not None:
                answer = handler(request, exc)
                if inspect.isawaitable(answer):
                    answer = await answer
                response: Response = answer
                return response
        raise exc
