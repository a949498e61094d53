"""The door: a reservation's check-in QR, and the host's scan of it.

``GET /v1/reservations/{code}/qr`` takes the manage token in ``?token=`` as
well as in ``X-Manage-Token`` so that its URL works as an ``<img>`` source and as
an image link in a message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from saveit.api.auth import HostOf, reservation_access
from saveit.api.deps import ContainerDep
from saveit.api.routers.reservations import shown
from saveit.bootstrap import Container
from saveit.checkin import CheckIn, qr
from saveit.checkin.tokens import MAX_LENGTH

router = APIRouter(tags=["check-in"])

SVG = "image/svg+xml"
PNG = "image/png"


class Scan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=MAX_LENGTH, description="The QR's text")


def _checkin(container: Container) -> CheckIn:
    assert container.checkin is not None, "build() wires check-in"
    return container.checkin


@router.get(
    "/v1/reservations/{code}/qr",
    response_class=Response,
    responses={200: {"content": {PNG: {}, SVG: {}}, "description": "The check-in QR code"}},
)
def reservation_qr(
    code: str,
    request: Request,
    container: ContainerDep,
    image_format: Annotated[Literal["png", "svg"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    access = reservation_access(request, container, code)
    token = _checkin(container).token_for(access.reservation)
    wants_svg = image_format == "svg" or (image_format is None and SVG in (accept or ""))
    image, media_type = (qr.svg(token), SVG) if wants_svg else (qr.png(token), PNG)
    return Response(
        image,
        media_type=media_type,
        headers={"Cache-Control": "private, no-store", "Vary": "Accept"},
    )


@router.post("/v1/restaurants/{slug}/check-in")
def scan_check_in(
    slug: str, body: Scan, actor: HostOf, response: Response, container: ContainerDep
) -> dict[str, Any]:
    view = _checkin(container).scan(slug, body.token, actor)
    return shown(container, view, response)
