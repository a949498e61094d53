"""The routers are included busiest first (``saveit.api.app``), which is only
safe while no request could be taken by routes of two of them: then their order
decides the cost of finding a route, never which one answers. This keeps it so.

A request for each route's own path (every ``{parameter}`` filled in) must be
fully matched within that route's own router and by no other. Within one router
a literal segment before a ``{parameter}`` (``…/channels/whatsapp`` before
``…/channels/{channel}``) is that router's own, deliberate order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, WebSocketRoute

from saveit.api.app import create_app
from saveit.bootstrap import Container


def _leaves(route: BaseRoute) -> Iterator[BaseRoute]:
    included = getattr(route, "original_router", None)  # FastAPI's include_router
    if included is None:
        yield route
        return
    for child in included.routes:
        yield from _leaves(child)


def _first_path(entry: BaseRoute) -> str:
    """A router by the path of its first route: enough to name it in a failure."""
    return str(getattr(next(_leaves(entry)), "path", entry))


def _requests(route: BaseRoute) -> Iterator[dict[str, Any]]:
    path = re.sub(r"\{[^}]+\}", "p1", str(getattr(route, "path", "")))
    if isinstance(route, Mount):
        path += "/p1"
    if isinstance(route, WebSocketRoute):
        yield {"type": "websocket", "path": path, "root_path": "", "headers": []}
        return
    for method in sorted(getattr(route, "methods", None) or {"GET"}):
        yield {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def test_no_request_is_taken_by_routes_of_two_routers(container: Container) -> None:
    entries = create_app(container).router.routes
    assert len(entries) > 15
    taken: list[str] = []
    for entry in entries:
        for route in _leaves(entry):
            for scope in _requests(route):
                matching = [other for other in entries if other.matches(scope)[0] == Match.FULL]
                if matching != [entry]:
                    where = [_first_path(other) for other in matching]
                    taken.append(f"{scope.get('method', 'WS')} {scope['path']}: {where}")
    assert taken == [], "\n".join(taken)
