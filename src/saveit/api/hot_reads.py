"""A guest's availability read that this process already holds, answered before routing.

Most availability reads of a busy restaurant are hits in this process's memory
(:meth:`saveit.cache.AvailabilityCache.peek`); most others are hits that only
Redis holds, which it reads here too, with an asyncio client
(:meth:`~saveit.cache.AvailabilityCache.apeek_shared`). Routing one through FastAPI —
matching the path against every route, solving the endpoint's dependencies,
validating the query, building a ``Response`` — cost more than everything else
the hit does. This pure ASGI middleware sits innermost, behind every guard
(request id and metrics, header and body limits, rate limits, the catch-all),
so a hit it answers passed them all exactly as the routed endpoint would have.

It only answers what it can read unambiguously: ``GET`` without credentials and
with exactly ``date=YYYY-MM-DD`` and ``party_size`` (digits, no leading zero)
in the query, nothing else. Anything else — another parameter, an area, a staff
token, an odd spelling, a miss — goes on to the routed endpoint, which validates
it and answers as before (a Redis that fails here also sends the read on). The
bytes are those the endpoint would send, with the same headers.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from saveit.cache.availability import HIT, AvailabilityCache

PREFIX = "/v1/restaurants/"
SUFFIX = "/availability"
ROUTE_PATH = PREFIX + "{slug}" + SUFFIX
_QUERY = re.compile(rb"date=(\d{4}-\d{2}-\d{2})&party_size=([1-9]\d{0,3})")
_QUERY_REVERSED = re.compile(rb"party_size=([1-9]\d{0,3})&date=(\d{4}-\d{2}-\d{2})")


class CachedAvailability:
    def __init__(self, app: ASGIApp, *, cache: AvailabilityCache | None, route: APIRoute) -> None:
        """``route``: the endpoint's route, which a hit answered here reports in
        the scope as routing would (the metrics label requests by its template)."""
        if route.path != ROUTE_PATH:
            raise ValueError(f"not the availability route: {route.path}")
        self.app = app
        self.cache = cache
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = self._wanted(scope) if scope["type"] == "http" else None
        body = None
        if wanted is not None and self.cache is not None:
            slug, day, party_size = wanted
            body = self.cache.peek(slug, day, party_size, area=None, staff=False)
            if body is None:
                body = await self.cache.apeek_shared(slug, day, party_size)
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"x-saveit-cache", HIT.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _wanted(self, scope: Scope) -> tuple[str, date, int] | None:
        """The (slug, day, party size) of a guest's plain availability read."""
        path: str = scope["path"]
        if (
            self.cache is None
            or scope["method"] != "GET"
            or not path.startswith(PREFIX)
            or not path.endswith(SUFFIX)
        ):
            return None
        slug = path[len(PREFIX) : -len(SUFFIX)]
        if not slug or "/" in slug:
            return None
        query: bytes = scope["query_string"]
        found = _QUERY.fullmatch(query)
        if found is not None:
            day_text, size_text = found.group(1), found.group(2)
        else:
            found = _QUERY_REVERSED.fullmatch(query)
            if found is None:
                return None
            size_text, day_text = found.group(1), found.group(2)
        for name, _ in scope["headers"]:
            if name == b"authorization":
                return None  # a staff read: the endpoint checks the token
        party_size = int(size_text)
        if party_size > 1000:
            return None
        try:
            day = date.fromisoformat(day_text.decode())
        except ValueError:
            return None
        return slug, day, party_size
