"""Making and managing one reservation: guests with its manage token, or staff.

Every response that shows a reservation carries ``ETag: "<version>"``; a client
echoes it in ``If-Match`` so that two people editing one booking cannot
silently overwrite each other.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial
from typing import Annotated
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
from fastapi import APIRouter, Header, Request, Response
from pydantic import Field

from saveit.api.auth import guest_actor, reservation_access, staff_actor_if_any
from saveit.api.deps import ContainerDep
from saveit.api.responses import MadeReservation, Reservation, Verification, reservation
from saveit.api.schemas import Body, Cancellation, NewReservation, ReservationChanges
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import CreateReservation, GuestDetails, ModifyReservation
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from saveit.messaging.verification import Route

router = APIRouter(tags=["reservations"])

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=100)]
_VERSION = re.compile(r'^(?:W/)?"?(\d{1,9})"?$', re.ASCII)


def expected_version(if_match: str | None, in_body: int | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return in_body
    found = _VERSION.match(if_match.strip())
    if found is None:
        raise errors.ValidationFailed('If-Match must be a version such as "3"', field="If-Match")
    version = int(found.group(1))
    if in_body is not None and in_body != version:
        raise errors.ValidationFailed("If-Match and the body's version disagree")
    return version


def tz_of(container: Container, view: ReservationView) -> ZoneInfo:
    return container.booking.restaurant(view.restaurant).tz


def shown(container: Container, view: ReservationView, response: Response) -> Reservation:
    response.headers["ETag"] = f'"{view.version}"'
    return reservation(view, tz_of(container, view))


def localised(exc: errors.SlotTaken, tz: ZoneInfo) -> errors.SlotTaken:
    """The engine's alternatives are UTC; a guest reads them in the restaurant's time."""
    alternatives = [
        datetime.fromisoformat(a).astimezone(tz).isoformat() for a in exc.data["alternatives"]
    ]
    return errors.SlotTaken(exc.detail, **{**exc.data, "alternatives": alternatives})


@router.post(
    "/v1/restaurants/{slug}/reservations",
    status_code=201,
    response_model=MadeReservation,
    response_model_exclude_unset=True,
)
async def create_reservation(
    slug: str,
    body: NewReservation,
    request: Request,
    container: ContainerDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> Response:
    """The booking runs on a request thread; the cached availability it changed is
    invalidated in Redis from the event loop, before the answer leaves, so the
    thread is free for the next booking one round trip sooner
    (``AvailabilityCache.deferring``)."""
    make = partial(_create, slug, body, request, container, idempotency_key)
    cache = container.availability
    if cache is None:
        return await anyio.to_thread.run_sync(make)
    with cache.deferring() as pending:
        try:
            return await anyio.to_thread.run_sync(make)
        finally:
            # Shielded: a booking that was made is invalidated even if the request
            # is cancelled meanwhile (Redis answers within its short timeout).
            with anyio.CancelScope(shield=True):
                await cache.aflush(pending)


def _create(
    slug: str,
    body: NewReservation,
    request: Request,
    container: Container,
    idempotency_key: str | None,
) -> Response:
    """Answers with the rendered document itself: FastAPI would check a returned
    model against ``response_model`` in a second hop to the thread pool, for a
    model this function has just built (the schema still documents the route)."""
    actor = staff_actor_if_any(request, container, slug) or guest_actor(request)
    restaurant = container.booking.restaurant(slug)
    client_ip = request.client.host if request.client else None
    held: Route | None = None
    if not actor.is_staff:
        if body.status is not None:
            raise errors.Forbidden("Only staff set a reservation's status")
        if body.source != "web":
            raise errors.Forbidden("Only staff record another source than web", field="source")
        if not (body.phone or body.email):
            raise errors.ValidationFailed(
                "Give a phone number or an email so the restaurant can reach you",
                field="phone",
            )
        # per guest identity (saveit.ratelimit), per IP, and the public as a whole
        container.limiter.check_guest(body.phone, body.email)
        container.abuse.check_public_create(client_ip, restaurant.id)
        if restaurant.rules.verify_public_bookings:
            # Where the code will go, known before anything is written.
            held = container.verification.plan(restaurant.id, phone=body.phone, email=body.email)
    start = body.resolved(restaurant.tz)
    assert start is not None
    cmd = CreateReservation(
        restaurant=slug,
        start=start,
        party_size=body.party_size,
        guest=GuestDetails(
            name=body.name, phone=body.phone, email=body.email, language=body.language
        ),
        notes=body.notes,
        area=body.area,
        tables=tuple(body.tables or ()),
        source=body.source,
        status=Status.PENDING if held else Status(body.status) if body.status else Status.CONFIRMED,
        idempotency_key=idempotency_key,
    )
    try:
        made = container.booking.create(cmd, actor)
    except errors.SlotTaken as exc:
        raise localised(exc, restaurant.tz) from None
    view = made.reservation
    headers = {"Location": f"/v1/reservations/{view.code}", "ETag": f'"{view.version}"'}
    if made.replayed:
        headers["Idempotent-Replayed"] = "true"
    answer = MadeReservation(
        reservation=reservation(view, restaurant.tz),
        manage_token=container.booking.manage_token(view.code),
    )
    if held is not None and not made.replayed:
        expires = container.verification.start(view, held, client_ip)
        answer.verification = Verification(
            channel=held.channel, expires_at=expires.astimezone(restaurant.tz).isoformat()
        )
    return Response(
        answer.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=200 if made.replayed else 201,
        headers=headers,
        media_type="application/json",
    )


class VerificationCode(Body):
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


@router.post("/v1/reservations/{code}/verify")
def verify_reservation(
    code: str,
    body: VerificationCode,
    request: Request,
    response: Response,
    container: ContainerDep,
) -> Reservation:
    """The six-digit code sent for a booking held by ``verify_public_bookings``
    (manage token or staff): confirms it; five wrong codes end the tries."""
    access = reservation_access(request, container, code)
    view = container.verification.verify(access.reservation, body.code, access.actor)
    return shown(container, view, response)


@router.get("/v1/reservations/{code}")
def get_reservation(
    code: str, request: Request, response: Response, container: ContainerDep
) -> Reservation:
    access = reservation_access(request, container, code)
    return shown(container, access.reservation, response)


@router.patch("/v1/reservations/{code}")
def change_reservation(
    code: str,
    body: ReservationChanges,
    request: Request,
    response: Response,
    container: ContainerDep,
    if_match: IfMatch = None,
) -> Reservation:
    access = reservation_access(request, container, code)
    tz = tz_of(container, access.reservation)
    cmd = ModifyReservation(
        code=code,
        start=body.resolved(tz),
        party_size=body.party_size,
        tables=tuple(body.tables) if body.tables is not None else None,
        notes=body.notes,
        expected_version=expected_version(if_match, body.version),
    )
    try:
        view = container.booking.modify(cmd, access.actor)
    except errors.SlotTaken as exc:
        raise localised(exc, tz) from None
    return shown(container, view, response)


@router.post("/v1/reservations/{code}/cancel")
def cancel_reservation(
    code: str,
    request: Request,
    response: Response,
    container: ContainerDep,
    body: Cancellation | None = None,
    if_match: IfMatch = None,
) -> Reservation:
    access = reservation_access(request, container, code)
    body = body or Cancellation()
    view = container.booking.cancel(
        code,
        access.actor,
        expected_version=expected_version(if_match, body.version),
        reason=body.reason,
    )
    return shown(container, view, response)
