"""What the lanes answered before routing share: the app's own answers to errors.

A lane (:mod:`saveit.api.webhook_lane`, :mod:`saveit.api.booking_lane`) calls a
route's function without FastAPI's routing; an error it raises must still get
the problem document the routed endpoint's would have, so the lane looks it up
in the app's exception handlers by the exception's class and its bases, as
Starlette does. Anything they do not know goes on to the catch-all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from starlette.responses import Response

Handlers = Mapping[Any, Callable[[Request, Exception], Any]]


async def problem(handlers: Handlers, request: Request, exc: Exception) -> Response:
    """The app's answer to ``exc``; re-raises what no handler below ``Exception`` knows."""
    for kind in type(exc).__mro__:
        if kind is Exception:  # Starlette leaves that one to the server-error layer
            break
        handler = handlers.get(kind)
        if handler is not None:
            answer = handler(request, exc)
            if inspect.isawaitable(answer):
                answer = await answer
            response: Response = answer
            return response
    raise exc
