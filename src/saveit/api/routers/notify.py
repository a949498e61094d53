"""Which channels a guest hears from us on: set by staff, or by the guest with a
booking's manage token (:mod:`saveit.admin.notify_preferences`). ``null`` goes
back to the default (the channel a booking came from, plus email when known)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field

from saveit.admin.notify_preferences import Preference
from saveit.api.auth import HostOf, reservation_access
from saveit.api.channel_responses import GuestChannels
from saveit.api.deps import ContainerDep, Services
from saveit.api.ids import RowId
from saveit.api.schemas import Body as StrictBody
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.messages import ChannelName

router = APIRouter(tags=["notifications"])


class NotifyChannels(StrictBody):
    channels: Annotated[list[ChannelName], Field(max_length=5)] | None


def _shown(preference: Preference) -> GuestChannels:
    return GuestChannels(channels=preference.channels, default=preference.default)


@router.get("/v1/restaurants/{slug}/guests/{guest_id}/notify-channels")
def get_guest_channels(
    slug: str, guest_id: RowId, actor: HostOf, services: Services
) -> GuestChannels:
    return _shown(services.preferences.of_guest_at(slug, guest_id))


@router.put("/v1/restaurants/{slug}/guests/{guest_id}/notify-channels")
def put_guest_channels(
    slug: str, guest_id: RowId, body: NotifyChannels, actor: HostOf, services: Services
) -> GuestChannels:
    return _shown(services.preferences.choose_for_guest_at(slug, guest_id, body.channels))


def _booking_guest(request: Request, container: Container, code: str) -> int:
    guest = reservation_access(request, container, code).reservation.guest
    if guest is None:
        raise errors.NotFound("This booking has no guest on record")
    return guest.id


@router.get("/v1/reservations/{code}/notify-channels")
def get_my_channels(
    code: str, request: Request, container: ContainerDep, services: Services
) -> GuestChannels:
    return _shown(services.preferences.of(_booking_guest(request, container, code)))


@router.put("/v1/reservations/{code}/notify-channels")
def put_my_channels(
    code: str, body: NotifyChannels, request: Request, container: ContainerDep, services: Services
) -> GuestChannels:
    guest_id = _booking_guest(request, container, code)
    return _shown(services.preferences.choose(guest_id, body.channels))
