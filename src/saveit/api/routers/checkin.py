"""The door: a reservation's check-in QR, and the host's scan of it.

``GET /v1/reservations/{code}/qr`` takes a QR link token in ``?token=`` (so its
URL works as an ``<img>`` source and as an image link in a message; the token
shows this QR and nothing else, until shortly after the booking), or the manage
token in ``X-Manage-Token``, or a staff token. Links sent before QR link tokens
existed carry the manage token in ``?token=``: it still shows the QR (and only
the QR) until the manage token itself expires.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from saveit.admin.fields import NO_NUL
from saveit.api.auth import HostOf, manage_token_expired, reservation_access
from saveit.api.deps import ContainerDep
from saveit.api.responses import Reservation
from saveit.api.routers.reservations import shown
from saveit.bootstrap import Container
from saveit.checkin import CheckIn, qr
from saveit.checkin.tokens import MAX_LENGTH
from saveit.domain import errors
from saveit.domain.views import ReservationView

router = APIRouter(tags=["check-in"])

SVG = "image/svg+xml"
PNG = "image/png"


class Scan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1,
        max_length=MAX_LENGTH,
        description="The QR's text",
        json_schema_extra={"pattern": NO_NUL},
    )


def _checkin(container: Container) -> CheckIn:
    return container.checkin


@router.get(
    "/v1/reservations/{code}/qr",
    response_class=Response,
    responses={
        200: {
            "content": {
                PNG: {"schema": {"type": "string", "format": "binary"}},
                SVG: {"schema": {"type": "string"}},
            },
            "description": "The check-in QR code",
        }
    },
)
def reservation_qr(
    code: str,
    request: Request,
    container: ContainerDep,
    image_format: Annotated[Literal["png", "svg"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    view = _by_link(container, code, request.query_params.get("token"))
    if view is None:
        view = reservation_access(request, container, code).reservation
    token = _checkin(container).token_for(view)
    wants_svg = image_format == "svg" or (image_format is None and SVG in (accept or ""))
    image, media_type = (qr.svg(token), SVG) if wants_svg else (qr.png(token), PNG)
    return Response(
        image,
        media_type=media_type,
        headers={"Cache-Control": "private, no-store", "Vary": "Accept"},
    )


def _by_link(container: Container, code: str, token: str | None) -> ReservationView | None:
    """The reservation whose QR ``token`` (from the URL) may show; None without one."""
    if not token:
        return None
    booking = container.booking
    if booking.verify_qr_link_token(code, token):
        return booking.get(code)
    if booking.verify_manage_token(code, token):  # a link sent before QR link tokens
        view = booking.get(code)
        if not manage_token_expired(container, view):
            return view
        raise errors.Forbidden("This link has expired")
    raise errors.Forbidden("This link is not valid for this reservation")


@router.post("/v1/restaurants/{slug}/check-in")
def scan_check_in(
    slug: str, body: Scan, actor: HostOf, response: Response, container: ContainerDep
) -> Reservation:
    view = _checkin(container).scan(slug, body.token, actor)
    return shown(container, view, response)
