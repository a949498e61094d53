"""The host stand: the day's sheet, status changes and walk-ins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from saveit.api.auth import HostOf, reservation_access
from saveit.api.deps import ContainerDep
from saveit.api.responses import DaySheet, Reservation, reservation
from saveit.api.routers.reservations import IfMatch, expected_version, shown
from saveit.api.schemas import Day, NewWalkIn, StatusChange
from saveit.booking.service import BookingService
from saveit.domain.commands import Actor, WalkIn
from saveit.domain.views import ReservationView

router = APIRouter(tags=["staff"])


@router.get("/v1/restaurants/{slug}/reservations")
def list_reservations(
    slug: str,
    actor: HostOf,
    container: ContainerDep,
    date: Annotated[Day, Query(description="Local business day, YYYY-MM-DD")],
) -> DaySheet:
    restaurant = container.booking.restaurant(slug)
    views = container.booking.list_for_day(slug, date)
    return DaySheet(
        restaurant=slug,
        date=date.isoformat(),
        timezone=restaurant.timezone,
        reservations=[reservation(v, restaurant.tz) for v in views],
    )


Transition = Callable[[BookingService], Callable[[str, Actor, int | None], ReservationView]]

_TRANSITIONS: dict[str, Transition] = {
    "check-in": lambda s: s.check_in,
    "no-show": lambda s: s.no_show,
    "complete": lambda s: s.complete,
    "confirm": lambda s: s.confirm,
}


def _status_route(action: str, transition: Transition) -> None:
    def endpoint(
        code: str,
        request: Request,
        response: Response,
        container: ContainerDep,
        body: StatusChange | None = None,
        if_match: IfMatch = None,
    ) -> Reservation:
        access = reservation_access(request, container, code, staff_only=True)
        version = expected_version(if_match, body.version if body else None)
        view = transition(container.booking)(code, access.actor, version)
        return shown(container, view, response)

    endpoint.__name__ = f"reservation_{action.replace('-', '_')}"
    router.add_api_route(
        f"/v1/reservations/{{code}}/{action}",
        endpoint,
        methods=["POST"],
        name=endpoint.__name__,
        response_model=Reservation,
    )


for _action, _transition in _TRANSITIONS.items():
    _status_route(_action, _transition)


@router.post("/v1/restaurants/{slug}/walk-ins", status_code=201)
def walk_in(
    slug: str,
    body: NewWalkIn,
    actor: HostOf,
    response: Response,
    container: ContainerDep,
) -> Reservation:
    view = container.booking.walk_in(
        WalkIn(
            restaurant=slug,
            party_size=body.party_size,
            name=body.name,
            tables=tuple(body.tables or ()),
            area=body.area,
            notes=body.notes,
        ),
        actor,
    )
    response.headers["Location"] = f"/v1/reservations/{view.code}"
    return shown(container, view, response)
