"""The waitlist over HTTP: guests join and answer with the entry's manage token,
staff see and edit the day's list (and join for a caller on the phone).

* ``POST /v1/restaurants/{slug}/waitlist`` — join (public; staff with a token
  join for a caller); answers the entry and its manage token.
* ``GET|PATCH|DELETE /v1/waitlist/{code}`` — see, change (window, party, area)
  or leave, with ``X-Manage-Token`` or a staff token.
* ``POST /v1/waitlist/{code}/accept|decline`` — answer an open offer.
* ``GET /v1/restaurants/{slug}/waitlist?date=`` — the day's list (host);
  ``GET …/waitlist/outcomes?from=&to=`` — how many joined, were offered, accepted …
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import ConfigDict, Field, model_validator

from saveit.api.auth import HostOf, bearer, guest_actor, staff_actor_if_any
from saveit.api.auth import actor_of as principal_actor
from saveit.api.deps import ContainerDep
from saveit.api.responses import (
    BookedFromWaitlist,
    JoinedWaitlist,
    Offer,
    WaitlistDay,
    WaitlistEntry,
    WaitlistOutcomes,
    reservation,
)
from saveit.api.schemas import (
    CONTACT,
    Area,
    Body,
    Channel,
    Day,
    Instant,
    PartySize,
    Version,
    When,
    rules,
    text,
    when_rules,
)
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import Actor, GuestDetails
from saveit.waitlist.service import JoinRequest, Waitlist

router = APIRouter(tags=["waitlist"])


# Checked by the waitlist against the clock and the entry (saveit.waitlist), stated here.
WINDOW_RULES = (
    "That time has passed",
    "earliest is after latest",
    "A window is 12 hours at most",
    "A phone or an email is needed",
)


class NewEntry(When):
    model_config = ConfigDict(
        json_schema_extra=when_rules(required=True, also=(*CONTACT, *WINDOW_RULES))
    )

    party_size: PartySize
    earliest: Instant | None = None
    latest: Instant | None = None
    name: Annotated[str, text(200, min_length=1)]
    phone: Annotated[str, text(32)] | None = None
    email: Annotated[str, text(254)] | None = None
    language: Annotated[str, Field(pattern="^(es|en)$")] | None = None
    area: Area | None = None
    notes: Annotated[str, text(1000)] = ""
    source: Channel = "web"

    @model_validator(mode="after")
    def _has_time(self) -> NewEntry:
        if self.start is None and self.date is None:
            raise ValueError("give start, or date and time")
        return self


class EntryChanges(Body):
    model_config = ConfigDict(json_schema_extra=rules(*WINDOW_RULES))

    earliest: Instant | None = None
    latest: Instant | None = None
    party_size: PartySize | None = None
    area: Area | None = None
    version: Version | None = None


def _waitlist(container: Container) -> Waitlist:
    if container.waitlist is None:
        raise errors.NotFound("The waitlist is turned off")
    return container.waitlist


class EntryView(Protocol):
    """A waitlist entry as the waitlist service returns it."""

    @property
    def code(self) -> str: ...
    @property
    def restaurant(self) -> str: ...
    @property
    def day(self) -> dt.date: ...
    @property
    def earliest(self) -> dt.datetime: ...
    @property
    def latest(self) -> dt.datetime: ...
    @property
    def party_size(self) -> int: ...
    @property
    def area(self) -> str | None: ...
    @property
    def guest_name(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def hold_start(self) -> dt.datetime | None: ...
    @property
    def hold_expires_at(self) -> dt.datetime | None: ...
    @property
    def reservation_code(self) -> str | None: ...
    @property
    def offers(self) -> int: ...
    @property
    def joined_at(self) -> dt.datetime: ...
    @property
    def version(self) -> int: ...


def entry_json(entry: EntryView, tz: ZoneInfo) -> WaitlistEntry:
    def local(value: dt.datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value is not None else None

    return WaitlistEntry(
        code=entry.code,
        restaurant=entry.restaurant,
        day=entry.day.isoformat(),
        earliest=local(entry.earliest),
        latest=local(entry.latest),
        party_size=entry.party_size,
        area=entry.area,
        name=entry.guest_name,
        channel=entry.channel,
        status=entry.status,
        offer=None
        if entry.status != "offered"
        else Offer(start=local(entry.hold_start), expires_at=local(entry.hold_expires_at)),
        reservation=entry.reservation_code,
        offers=entry.offers,
        joined_at=local(entry.joined_at),
        version=entry.version,
    )


def _shown(container: Container, entry: EntryView) -> WaitlistEntry:
    return entry_json(entry, container.booking.restaurant(entry.restaurant).tz)


def _access(request: Request, container: Container, code: str) -> tuple[Actor, EntryView]:
    """Staff of the entry's restaurant, or the entry's own manage token."""
    waitlist = _waitlist(container)
    principal = bearer(request, container)
    if principal is not None:
        entry = waitlist.get(code)
        if not principal.may(entry.restaurant, "host"):
            raise errors.Forbidden("This token belongs to another restaurant")
        return principal_actor(request, principal), entry
    manage = request.headers.get("x-manage-token")
    if not manage:
        raise errors.Unauthorized("Send the entry's manage token (X-Manage-Token) or a staff token")
    if not waitlist.verify_manage_token(code, manage):
        raise errors.Forbidden("This manage token is for another entry")
    return guest_actor(request), waitlist.get(code)


@router.post("/v1/restaurants/{slug}/waitlist", status_code=201)
def join(slug: str, body: NewEntry, request: Request, container: ContainerDep) -> JoinedWaitlist:
    waitlist = _waitlist(container)
    actor = staff_actor_if_any(request, container, slug) or guest_actor(request)
    if not (body.phone or body.email):
        raise errors.ValidationFailed(
            "Give a phone number or an email so we can tell you when a table frees up",
            field="phone",
        )
    if not actor.is_staff:
        container.limiter.check_guest(body.phone, body.email)
    restaurant = container.booking.restaurant(slug)
    start = body.resolved(restaurant.tz)
    assert start is not None
    channel = "phone" if actor.is_staff and body.source == "web" else body.source
    entry = waitlist.join(
        JoinRequest(
            restaurant=slug,
            start=start,
            party_size=body.party_size,
            earliest=body.earliest,
            latest=body.latest,
            area=body.area,
            guest=GuestDetails(
                name=body.name, phone=body.phone, email=body.email, language=body.language
            ),
            notes=body.notes,
        ),
        actor,
        channel,
    )
    return JoinedWaitlist(
        entry=entry_json(entry, restaurant.tz), manage_token=waitlist.manage_token(entry.code)
    )


@router.get("/v1/waitlist/{code}")
def get_entry(code: str, request: Request, container: ContainerDep) -> WaitlistEntry:
    _actor, entry = _access(request, container, code)
    return _shown(container, entry)


@router.patch("/v1/waitlist/{code}")
def change_entry(
    code: str, body: EntryChanges, request: Request, container: ContainerDep
) -> WaitlistEntry:
    actor, _entry = _access(request, container, code)
    changed = _waitlist(container).change(
        code,
        actor,
        earliest=body.earliest,
        latest=body.latest,
        party_size=body.party_size,
        area=body.area,
        expected_version=body.version,
    )
    return _shown(container, changed)


@router.delete("/v1/waitlist/{code}")
def leave(code: str, request: Request, container: ContainerDep) -> WaitlistEntry:
    actor, _entry = _access(request, container, code)
    return _shown(container, _waitlist(container).leave(code, actor))


@router.post("/v1/waitlist/{code}/accept")
def accept(code: str, request: Request, container: ContainerDep) -> BookedFromWaitlist:
    actor, _entry = _access(request, container, code)
    booked = _waitlist(container).accept(code, actor)
    tz = container.booking.restaurant(booked.restaurant).tz
    return BookedFromWaitlist(
        reservation=reservation(booked, tz),
        manage_token=container.booking.manage_token(booked.code),
    )


@router.post("/v1/waitlist/{code}/decline")
def decline(code: str, request: Request, container: ContainerDep) -> WaitlistEntry:
    actor, _entry = _access(request, container, code)
    return _shown(container, _waitlist(container).decline(code, actor))


@router.get("/v1/restaurants/{slug}/waitlist")
def day_list(
    slug: str, date: Annotated[dt.date, Query()], _staff: HostOf, container: ContainerDep
) -> WaitlistDay:
    tz = container.booking.restaurant(slug).tz
    entries = _waitlist(container).list_day(slug, date)
    return WaitlistDay(date=date.isoformat(), entries=[entry_json(e, tz) for e in entries])


@router.get("/v1/restaurants/{slug}/waitlist/outcomes")
def outcomes(
    slug: str,
    _staff: HostOf,
    container: ContainerDep,
    since: Annotated[Day, Query(alias="from")],
    until: Annotated[Day, Query(alias="to")],
) -> WaitlistOutcomes:
    """Entries joined, offered, accepted, declined, expired, closed and left, by the
    day they happened (``from`` and ``to`` inclusive, the restaurant's days)."""
    tz = container.booking.restaurant(slug).tz
    lo = dt.datetime.combine(since, dt.time(), tzinfo=tz)
    hi = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    counted = _waitlist(container).outcomes(slug, lo.astimezone(dt.UTC), hi.astimezone(dt.UTC))
    return WaitlistOutcomes(since=since.isoformat(), until=until.isoformat(), outcomes=counted)
