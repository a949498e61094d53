"""Who is calling: the bootstrap admin, a restaurant's staff, or a guest holding
one reservation's manage token; and what each may do.

An invalid bearer token is always a 401, even on public routes, so a client
with a typo learns about it instead of silently getting the public view.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, get_args

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from saveit.admin.staff_tokens import ROLES
from saveit.api.deps import AdminServices, ContainerDep
from saveit.api.schemas import Channel
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.views import ReservationView
from saveit.store import tenancy

CHANNELS: tuple[str, ...] = get_args(Channel)
RANK = {role: i for i, role in enumerate(ROLES)}
_NAME_MAX = 48  # fits the audit columns with the "staff:" prefix


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # admin | staff
    name: str
    restaurant: str | None  # slug; None for admin
    role: str
    display: str | None = None  # the name guests see (the token's display name)
    restaurant_id: int | None = None  # None for admin

    def may(self, slug: str, minimum: str) -> bool:
        if self.kind == "admin":
            return True
        return self.restaurant == slug and RANK[self.role] >= RANK[minimum]


def _channel(request: Request, default: str) -> str:
    channel = request.headers.get("x-saveit-channel", default).strip().lower()
    if channel not in CHANNELS:
        raise errors.ValidationFailed(
            f"X-SaveIt-Channel must be one of {', '.join(CHANNELS)}", field="X-SaveIt-Channel"
        )
    return channel


def principal_of(conn: HTTPConnection, token: str) -> Principal:
    """Who holds ``token``: the admin, or staff whose token is neither revoked nor expired."""
    container: Container = conn.app.state.container
    admin = container.settings.admin_token
    if admin is not None and hmac.compare_digest(admin.get_secret_value().encode(), token.encode()):
        return Principal("admin", "admin", None, "owner")
    services: AdminServices = conn.app.state.admin
    found = services.tokens.holder(token)
    if found is None:
        raise errors.Unauthorized("This token is not valid")
    return Principal(
        "staff",
        found.name[:_NAME_MAX],
        found.restaurant,
        found.role,
        found.display_name,
        found.restaurant_id,
    )


def bearer(request: Request, container: Container) -> Principal | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.Unauthorized("Use 'Authorization: Bearer <token>'")
    return principal_of(request, token)


def actor_of(request: Request, principal: Principal) -> Actor:
    return Actor(principal.kind, principal.name, _channel(request, "api"), principal.display)


def require_staff(request: Request, container: Container, slug: str, minimum: str) -> Actor:
    return _authorised(request, bearer(request, container), slug, minimum)


def _authorised(request: Request, principal: Principal | None, slug: str, minimum: str) -> Actor:
    if principal is None:
        raise errors.Unauthorized("This needs a staff token")
    if not principal.may(slug, minimum):
        raise errors.Forbidden(f"This needs the {minimum} role at '{slug}'", role=minimum)
    return actor_of(request, principal)


def staff_actor_if_any(request: Request, container: Container, slug: str) -> Actor | None:
    """Staff of ``slug`` get staff rules on public routes; anyone else is the public."""
    principal = bearer(request, container)
    if principal is None or not principal.may(slug, "host"):
        return None
    return actor_of(request, principal)


def guest_actor(request: Request) -> Actor:
    """A caller without a staff token acts on the web channel: the other channels
    reach us through their providers, never by a header a client chooses."""
    if _channel(request, "web") != "web":
        raise errors.Forbidden("Only staff set X-SaveIt-Channel", field="X-SaveIt-Channel")
    return Actor("guest", "guest", "web")


def _staff_of(minimum: str) -> Any:
    async def dependency(request: Request, slug: str, container: ContainerDep) -> Actor:
        # Async so the scope below is set in the request's own context, which the
        # endpoint's thread inherits; the token lookup still runs on a thread.
        principal = await run_in_threadpool(bearer, request, container)
        actor = _authorised(request, principal, slug, minimum)
        if principal is not None and principal.restaurant_id is not None:
            # Defence in depth: this request's transactions see only this
            # restaurant's rows on PostgreSQL (saveit.store.tenancy).
            tenancy.enter_tenant(principal.restaurant_id)
        return actor

    return Depends(dependency)


HostOf = Annotated[Actor, _staff_of("host")]
ManagerOf = Annotated[Actor, _staff_of("manager")]
OwnerOf = Annotated[Actor, _staff_of("owner")]


def require_admin(request: Request, container: ContainerDep) -> Actor:
    principal = bearer(request, container)
    if principal is None:
        raise errors.Unauthorized("This needs the admin token")
    if principal.kind != "admin":
        raise errors.Forbidden("Only the admin creates restaurants")
    return actor_of(request, principal)


Admin = Annotated[Actor, Depends(require_admin)]


@dataclass(frozen=True, slots=True)
class Access:
    actor: Actor
    reservation: ReservationView


def reservation_access(
    request: Request, container: Container, code: str, *, staff_only: bool = False
) -> Access:
    """A staff token of the booking's restaurant, or (unless ``staff_only``) the
    manage token of exactly this booking, sent in ``X-Manage-Token`` (never in the
    URL, where logs and referrers keep it).

    Another restaurant's staff hear 404, exactly as for a code that does not
    exist: a 403 would confirm that the code is somebody's booking.
    """
    principal = bearer(request, container)
    if principal is not None:
        view = container.booking.get(code)
        if not principal.may(view.restaurant, "host"):
            raise errors.NotFound("No such reservation", code=code)
        return Access(actor_of(request, principal), view)
    manage = request.headers.get("x-manage-token")
    if not manage:
        raise errors.Unauthorized(
            "Send the reservation's manage token (X-Manage-Token) or a staff token"
        )
    if staff_only:
        raise errors.Forbidden("Only staff change a reservation's status")
    if not container.booking.verify_manage_token(code, manage):
        raise errors.Forbidden("This manage token is not valid for this reservation")
    view = container.booking.get(code)
    if manage_token_expired(container, view):
        raise errors.Forbidden("This manage token has expired; the booking is over")
    return Access(guest_actor(request), view)


def manage_token_expired(container: Container, view: ReservationView) -> bool:
    """A manage token works until ``SAVEIT_MANAGE_TOKEN_GRACE_HOURS`` after the booking ends."""
    grace = timedelta(hours=container.settings.manage_token_grace_hours)
    return container.booking.clock() >= view.end + grace
