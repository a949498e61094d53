"""A guest's data: a copy for them or for staff, and erasure by staff.

Export and erasure of a guest need the manager role (or owner): a host runs the
floor and has no reason to take a guest's whole history home. A guest proves
who they are with a booking's manage token (``X-Manage-Token``, header only: a
token in a URL ends up in logs and browser histories) and gets the data of the
guest that booking belongs to. Answers are never cached.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from saveit.api.auth import ManagerOf, bearer
from saveit.api.deps import ContainerDep
from saveit.api.ids import RowId
from saveit.api.privacy_responses import Erased, GuestExport
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.privacy import GuestPrivacy

router = APIRouter(tags=["privacy"])

_PRIVATE = {"Cache-Control": "private, no-store"}


def _privacy(container: Container) -> GuestPrivacy:
    return container.privacy


def _download(doc: dict[str, Any], guest_id: int) -> JSONResponse:
    return JSONResponse(
        doc,
        headers={
            **_PRIVATE,
            "Content-Disposition": f'attachment; filename="guest-{guest_id}.json"',
        },
    )


_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"model": GuestExport, "description": "The guest's data, as a download"}
}


@router.get(
    "/v1/restaurants/{slug}/guests/{guest_id}/export", response_model=None, responses=_DOWNLOAD
)
def export_guest(slug: str, guest_id: RowId, actor: ManagerOf, container: ContainerDep) -> Response:
    """Everything stored about the guest, as one JSON document."""
    return _download(_privacy(container).export(slug, guest_id), guest_id)


@router.post("/v1/restaurants/{slug}/guests/{guest_id}/erase", response_model=Erased)
def erase_guest(
    slug: str, guest_id: RowId, actor: ManagerOf, container: ContainerDep, response: Response
) -> dict[str, Any]:
    """Pseudonymise the guest's personal data everywhere, in one transaction; bookings,
    messages and the guest row stay, without it, so counts hold. Recorded as done by
    the caller."""
    response.headers.update(_PRIVATE)
    return _privacy(container).erase(slug, guest_id, actor).to_json()


@router.get("/v1/reservations/{code}/my-data", response_model=None, responses=_DOWNLOAD)
def export_my_data(code: str, request: Request, container: ContainerDep) -> Response:
    """The data of the guest this booking belongs to, for the holder of its manage
    token (or a manager of its restaurant)."""
    principal = bearer(request, container)
    if principal is None:  # the token is checked before the code is looked up
        token = request.headers.get("x-manage-token")
        if not token:
            raise errors.Unauthorized("Send the reservation's manage token (X-Manage-Token)")
        if not container.booking.verify_manage_token(code, token):
            raise errors.Forbidden("This manage token is for another reservation")
    view = container.booking.get(code)
    if principal is not None and not principal.may(view.restaurant, "manager"):
        raise errors.Forbidden(
            f"This needs the manager role at '{view.restaurant}'", role="manager"
        )
    if view.guest is None:
        raise errors.NotFound("This booking has no guest on record")
    return _download(_privacy(container).export(view.restaurant, view.guest.id), view.guest.id)
