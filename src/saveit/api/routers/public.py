"""What anyone may read about a restaurant: its profile and free times."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute

from saveit.admin.fields import NO_NUL
from saveit.api.auth import staff_actor_if_any
from saveit.api.deps import ContainerDep, Services
from saveit.api.responses import (
    Availability,
    RestaurantProfile,
    restaurant_profile,
)
from saveit.api.schemas import Day
from saveit.bootstrap import Container
from saveit.cache.availability import HIT

router = APIRouter(prefix="/v1/restaurants", tags=["public"])


@router.get("/{slug}")
def get_restaurant(slug: str, services: Services) -> RestaurantProfile:
    view = services.restaurants.profile(slug)
    return restaurant_profile(view.profile, view.restaurant, view.today)


@router.get(
    "/{slug}/availability",
    response_model=None,  # often bytes straight from the cache (saveit.cache)
    responses={200: {"model": Availability, "description": "The free start times"}},
)
async def availability(
    slug: str,
    request: Request,
    container: ContainerDep,
    date: Annotated[Day, Query(description="Local business day, YYYY-MM-DD")],
    party_size: Annotated[int, Query(ge=1, le=1000)],
    area: Annotated[
        str | None, Query(min_length=1, max_length=64, json_schema_extra={"pattern": NO_NUL})
    ] = None,
) -> Availability | Response:
    """A guest's read found in this process's memory is answered right here on the
    event loop (most reads of a busy day); anything that needs Redis, the database
    or a staff token's check goes to a thread of the reads' own lane
    (``SAVEIT_READ_THREADS``). On the request threads a miss queued behind the
    bookings, each holding its thread for a whole transaction: under a burst of
    bookings the few reads that missed were the slowest answers of all."""
    cache = container.availability
    if "authorization" not in request.headers:
        body = cache.peek(slug, date, party_size, area=area, staff=False)
        if body is not None:
            return Response(body, media_type="application/json", headers={"X-SaveIt-Cache": HIT})
    compute = partial(_availability, slug, request, container, date, party_size, area)
    lane: anyio.CapacityLimiter = request.app.state.read_threads
    return await anyio.to_thread.run_sync(compute, limiter=lane)


def availability_route() -> APIRoute:
    """The route of :func:`availability` (for saveit.api.hot_reads)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is availability:
            return route
    raise LookupError("the availability route is not registered")


def _availability(
    slug: str,
    request: Request,
    container: Container,
    date: Day,
    party_size: int,
    area: str | None,
) -> Availability | Response:
    staff = staff_actor_if_any(request, container, slug) is not None
    # Served from the cache (see saveit.cache); X-SaveIt-Cache says hit, miss or bypass.
    body, how = container.availability.read(slug, date, party_size, area=area, staff=staff)
    return Response(body, media_type="application/json", headers={"X-SaveIt-Cache": how})
