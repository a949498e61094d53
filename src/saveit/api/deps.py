"""Request-scoped access to the container the app was built with, and to the
services behind the admin, channel-account and notification routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from saveit.accounts import SignIn, StaffAccounts
from saveit.accounts.passwords import Passwords
from saveit.admin.channel_accounts import ChannelAccounts
from saveit.admin.guests import GuestBook
from saveit.admin.inbox import StaffInbox
from saveit.admin.notify_preferences import NotifyPreferences
from saveit.admin.restaurants import RestaurantAdmin
from saveit.admin.staff_tokens import StaffTokens
from saveit.booking.day_sheet import DaySheets
from saveit.bootstrap import Container
from saveit.console import ConsoleServices
from saveit.realtime.backlog import Backlog
from saveit.store.unit_of_work import Database


async def container_of(request: Request) -> Container:
    """Async on purpose: FastAPI runs a plain ``def`` dependency on the thread
    pool, and a thread hop per request only to read an attribute cost more CPU
    than many endpoints' own work."""
    return cast(Container, request.app.state.container)


ContainerDep = Annotated[Container, Depends(container_of)]


@dataclass(frozen=True, slots=True)
class AdminServices:
    restaurants: RestaurantAdmin
    tokens: StaffTokens
    accounts: ChannelAccounts
    inbox: StaffInbox
    preferences: NotifyPreferences
    database: Database  # for the readiness probe's round trip


def admin_services(container: Container) -> AdminServices:
    """Built once per app (``create_app``) from the container's parts."""
    db = Database(container.engine, replica=container.replica)
    booking = container.booking
    settings = container.settings
    return AdminServices(
        restaurants=RestaurantAdmin(
            db, cache=booking.cache, configuration=booking.restaurant, clock=booking.clock
        ),
        tokens=StaffTokens(
            db,
            clock=booking.clock,
            default_ttl_days=settings.staff_token_ttl_days,
            max_ttl_days=settings.staff_token_max_ttl_days,
        ),
        accounts=ChannelAccounts(
            db,
            proofs=container.proofs,
            gateway=container.gateway,
            phone_region=settings.default_phone_region,
        ),
        inbox=StaffInbox(db, gateway=container.gateway, clock=booking.clock),
        preferences=NotifyPreferences(db),
        database=db,
    )


def console_services(container: Container, db: Database) -> ConsoleServices:
    """The staff console's services (``saveit.console``), built once per app."""
    passwords = Passwords()
    clock = container.booking.clock
    return ConsoleServices(
        signin=SignIn(
            db,
            passwords=passwords,
            limiter=container.limiter,
            settings=container.settings,
            clock=clock,
        ),
        staff=StaffAccounts(db, passwords=passwords, clock=clock),
        settings=container.settings,
        analytics=container.analytics,
        restaurants=RestaurantAdmin(
            db,
            cache=container.booking.cache,
            configuration=container.booking.restaurant,
            clock=clock,
        ),
        accounts=ChannelAccounts(
            db,
            proofs=container.proofs,
            gateway=container.gateway,
            phone_region=container.settings.default_phone_region,
        ),
        checkin=container.checkin,
        inbox=StaffInbox(db, gateway=container.gateway, clock=clock),
        guests=GuestBook(db, clock=clock),
        booking=container.booking,
        sheets=DaySheets(db, container.booking),
        backlog=Backlog(db, limit=1000),
    )


async def services_of(request: Request) -> AdminServices:
    return cast(AdminServices, request.app.state.admin)


Services = Annotated[AdminServices, Depends(services_of)]
