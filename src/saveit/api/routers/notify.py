"""Which channels a guest hears from us on: set by staff, or by the guest with a
booking's manage token. ``null`` goes back to the default (the channel a booking
came from, plus email when known)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import select

from saveit.api.auth import HostOf, reservation_access
from saveit.api.deps import ContainerDep
from saveit.api.ids import RowId
from saveit.api.responses import GuestChannels as Shown
from saveit.api.schemas import Body as StrictBody
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.messages import ChannelName
from saveit.store import notifications
from saveit.store import restaurants as restaurant_store
from saveit.store.schema import guests

router = APIRouter(tags=["notifications"])


class NotifyChannels(StrictBody):
    channels: Annotated[list[ChannelName], Field(max_length=5)] | None


def _shown(container: Container, guest_id: int) -> Shown:
    with container.booking.reading() as conn:
        chosen = notifications.channels_of(conn, guest_id)
    return Shown(channels=chosen, default=chosen is None)


def _set(container: Container, guest_id: int, body: NotifyChannels) -> Shown:
    with container.engine.begin() as conn:
        notifications.set_channels(conn, guest_id, body.channels)
    return _shown(container, guest_id)


def _guest_of(container: Container, slug: str, guest_id: int) -> int:
    with container.booking.reading() as conn:
        restaurant_id = restaurant_store.id_of(conn, slug)
        found = conn.execute(
            select(guests.c.id).where(
                guests.c.id == guest_id, guests.c.restaurant_id == restaurant_id
            )
        ).first()
    if found is None:
        raise errors.NotFound("No such guest at this restaurant", guest_id=guest_id)
    return guest_id


@router.get("/v1/restaurants/{slug}/guests/{guest_id}/notify-channels")
def get_guest_channels(slug: str, guest_id: RowId, actor: HostOf, container: ContainerDep) -> Shown:
    return _shown(container, _guest_of(container, slug, guest_id))


@router.put("/v1/restaurants/{slug}/guests/{guest_id}/notify-channels")
def put_guest_channels(
    slug: str, guest_id: RowId, body: NotifyChannels, actor: HostOf, container: ContainerDep
) -> Shown:
    return _set(container, _guest_of(container, slug, guest_id), body)


def _booking_guest(request: Request, container: Container, code: str) -> int:
    guest = reservation_access(request, container, code).reservation.guest
    if guest is None:
        raise errors.NotFound("This booking has no guest on record")
    return guest.id


@router.get("/v1/reservations/{code}/notify-channels")
def get_my_channels(code: str, request: Request, container: ContainerDep) -> Shown:
    return _shown(container, _booking_guest(request, container, code))


@router.put("/v1/reservations/{code}/notify-channels")
def put_my_channels(
    code: str, body: NotifyChannels, request: Request, container: ContainerDep
) -> Shown:
    return _set(container, _booking_guest(request, container, code), body)
