"""A guest's new booking, answered before routing.

Creates are the API's costliest requests, and in ``bench/booking.py`` they are a
fifth of all. FastAPI's part of one — matching the path against every route,
solving the endpoint's dependencies, reading and validating its header — cost
about 200 µs of the event loop's time on top of the thread hop and the body's
validation (a microbenchmark of the endpoint's signature: ~320 µs routed against
~115 µs here). The event loop is what every cached availability read waits for.

Like :mod:`saveit.api.webhook_lane` this pure ASGI middleware sits innermost,
behind every guard, and answers through the route's own function
(:func:`saveit.api.routers.reservations.create_reservation`) on the same thread
pool, with the app's exception handlers for its errors. It takes only what it can
read unambiguously: ``POST /v1/restaurants/{slug}/reservations`` with a JSON body
the endpoint's model accepts and at most one well-formed ``Idempotency-Key``.
Anything else — another content type, a body that does not validate, an odd
header — goes on to the routed endpoint with the body replayed, so its answer
(a 422 that lists every problem, in FastAPI's words) is exactly the one it gave
before. The body is validated as FastAPI does it: ``json.loads``, then the model.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saveit.api.lanes import Handlers, problem
from saveit.api.routers import reservations
from saveit.api.schemas import NewReservation

PREFIX = "/v1/restaurants/"
SUFFIX = "/reservations"
KEY_MAX = 200  # the routed endpoint's Idempotency-Key bounds: 1..200 characters


class BookingLane:
    def __init__(self, app: ASGIApp, *, container: Any, handlers: Handlers) -> None:
        """``handlers``: the app's exception handlers (``app.exception_handlers``)."""
        self.app = app
        self.container = container
        self.handlers = handlers
        self.route: APIRoute = reservations.create_route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = _slug(scope) if scope["type"] == "http" else None
        taken, key = _headers(scope) if slug is not None else (False, None)
        if slug is None or not taken:
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        replay = _replaying(body, more, receive)
        cmd = _validated(body) if more is None else None
        if cmd is None:
            await self.app(scope, replay, send)
            return
        scope["route"] = self.route  # as routing would: the metrics label it by its template
        scope["endpoint"] = self.route.endpoint
        request = Request(scope, replay)
        try:
            response = await run_in_threadpool(
                reservations.create_reservation, slug, cmd, request, self.container, key
            )
        except Exception as exc:
            response = await problem(self.handlers, request, exc)
        await response(scope, replay, send)


def _slug(scope: Scope) -> str | None:
    path: str = scope["path"]
    if scope["method"] != "POST" or not path.startswith(PREFIX) or not path.endswith(SUFFIX):
        return None
    slug = path[len(PREFIX) : -len(SUFFIX)]
    return slug if slug and "/" not in slug else None


def _headers(scope: Scope) -> tuple[bool, str | None]:
    """Whether this lane may take the request (a JSON body; no Idempotency-Key, or one
    within the endpoint's bounds), and the key."""
    key: str | None = None
    json_body = False
    for name, value in scope["headers"]:
        if name == b"content-type":
            json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
        elif name == b"idempotency-key":
            if key is not None:
                return False, None
            key = value.decode("latin-1")
            if not 1 <= len(key) <= KEY_MAX:
                return False, None
    return json_body, key


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, or what came before a message that is not more body (a
    disconnect), which is then handed on as it came."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replaying(body: bytes, interrupted: Message | None, receive: Receive) -> Receive:
    """``receive`` for whoever reads next: the body once, then what comes after."""
    more = interrupted is not None  # the body was cut short: it says so, as it came
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": more}]
    if interrupted is not None:
        pending.append(interrupted)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _validated(body: bytes) -> NewReservation | None:
    try:
        return NewReservation.model_validate(json.loads(body))
    except (ValueError, RecursionError, ValidationError):  # json's errors are ValueErrors
        return None
