"""Tonight's two ways to add a party: a booking taken on the phone (on one of the
day's free times for the party size, from the availability service, as staff
may book them) and a walk-in seated now.

Each form is its own fragment (``#tonight-new``, ``#tonight-walk-in``): htmx
swaps the answer in and the page redraws the day (``HX-Trigger``); without
JavaScript the answer is the whole page.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from saveit.console.i18n import translate
from saveit.console.pages.tonight import _day, _hx, _page, actor_of
from saveit.console.problems import said
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, HostAt, services_of
from saveit.domain import errors
from saveit.domain.commands import CreateReservation, GuestDetails, WalkIn
from saveit.domain.model import Restaurant, Status

router = APIRouter(prefix="/console/r/{slug}/tonight", include_in_schema=False)

FIELDS = ("party_size", "start", "name", "phone", "email", "notes")


def _party(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 5 else None


def free_times(request: Request, at: AtRestaurant, day: date, party: int) -> list[tuple[str, str]]:
    """(UTC instant, local HH:MM) of every start free for ``party`` on ``day``."""
    restaurant, slots = services_of(request).booking.availability(at.slug, day, party, staff=True)
    tz = restaurant.tz
    seen: dict[str, str] = {}
    for slot in slots:
        seen.setdefault(slot.start.isoformat(), f"{slot.start.astimezone(tz):%H:%M}")
    return sorted(seen.items())


def _free(request: Request, at: AtRestaurant, day: date, party: int | None) -> dict[str, Any]:
    if party is None:
        return {"party": None, "times": []}
    try:
        times = free_times(request, at, day, party)
    except errors.DomainError:
        times = []
    return {"party": party, "times": times}


def _answer(
    request: Request,
    at: AtRestaurant,
    day: date,
    which: str,
    *,
    status: int = 200,
    changed: bool = False,
    **state: Any,
) -> Response:
    template = "tonight/_new.html" if which == "new" else "tonight/_walk_in.html"
    defaults: dict[str, Any] = {"problem": None, "field": None, "notice": None, "entered": {}}
    if which == "new":
        defaults["free"] = None
    defaults.update(state)
    if not _hx(request):
        return _page(request, at, day, status, **{which: defaults})
    restaurant = services_of(request).booking.restaurant(at.slug)
    values: dict[str, Any] = {
        "base": f"/console/r/{at.slug}/tonight",
        "day": day,
        "parties": range(1, restaurant.rules.max_party_size + 1),
        "tables": [t for t in restaurant.tables if t.active],
        which: defaults,
    }
    return render(
        template,
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        status=status,
        headers={"HX-Trigger": "tonight-changed"} if changed else None,
        **values,
    )


@router.get("/free")
def free(request: Request, at: HostAt) -> Response:
    restaurant = services_of(request).booking.restaurant(at.slug)
    day = _day(request, restaurant)
    party = _party(request.query_params.get("party_size"))
    return render(
        "tonight/_free.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        free=_free(request, at, day, party),
        entered={},
    )


def _field_of(exc: errors.DomainError) -> str | None:
    field = exc.data.get("field")
    return field if isinstance(field, str) else None


@router.post("/new")
def new_booking(request: Request, at: HostAt, form: Form) -> Response:
    restaurant: Restaurant = services_of(request).booking.restaurant(at.slug)
    day = _day(request, restaurant)
    entered = {k: form.get(k, "").strip() for k in FIELDS}
    party = _party(entered["party_size"])
    lang = at.visit.lang
    try:
        start = datetime.fromisoformat(entered["start"])
    except ValueError:
        start = None
    if party is None or start is None or start.tzinfo is None:
        return _answer(
            request,
            at,
            day,
            "new",
            status=422,
            problem=translate(lang, "tonight.bad_time"),
            field="start",
            entered=entered,
            free=_free(request, at, day, party),
        )
    cmd = CreateReservation(
        restaurant=at.slug,
        start=start,
        party_size=party,
        guest=GuestDetails(
            name=entered["name"][:200],
            phone=entered["phone"] or None,
            email=entered["email"] or None,
        ),
        notes=entered["notes"][:2000],
        source="phone",
        status=Status.CONFIRMED,
    )
    try:
        made = services_of(request).booking.create(cmd, actor_of(at))
    except errors.DomainError as exc:
        taken = isinstance(exc, errors.SlotTaken)
        return _answer(
            request,
            at,
            day,
            "new",
            status=422,
            problem=translate(lang, "tonight.taken") if taken else said(lang, exc),
            field="start" if taken else _field_of(exc),
            entered=entered,
            free=_free(request, at, day, party),
        )
    view = made.reservation
    notice = translate(
        lang,
        "tonight.new.done",
        name=view.guest.name if view.guest else "",
        party=view.party_size,
        time=f"{view.start.astimezone(restaurant.tz):%H:%M}",
        tables=", ".join(view.tables) or "—",
        code=view.code,
    )
    return _answer(request, at, day, "new", changed=True, notice=notice)


@router.post("/walk-in")
def walk_in(request: Request, at: HostAt, form: Form) -> Response:
    restaurant = services_of(request).booking.restaurant(at.slug)
    day = _day(request, restaurant)
    entered = {k: form.get(k, "").strip() for k in ("party_size", "name", "table", "notes")}
    party = _party(entered["party_size"])
    try:
        if party is None:
            raise errors.ValidationFailed(
                "party_size must be between 1 and 1000", field="party_size"
            )
        view = services_of(request).booking.walk_in(
            WalkIn(
                restaurant=at.slug,
                party_size=party,
                name=entered["name"][:200],
                tables=(entered["table"],) if entered["table"] else (),
                notes=entered["notes"][:2000],
            ),
            actor_of(at),
        )
    except errors.DomainError as exc:
        taken = isinstance(exc, errors.SlotTaken | errors.NoSuitableTable)
        return _answer(
            request,
            at,
            day,
            "walk",
            status=422,
            problem=translate(at.visit.lang, "tonight.taken")
            if taken
            else said(at.visit.lang, exc),
            field="table" if taken else _field_of(exc),
            entered=entered,
        )
    notice = translate(
        at.visit.lang,
        "tonight.walk_in.done",
        party=view.party_size,
        tables=", ".join(view.tables) or "—",
    )
    return _answer(request, at, day, "walk", changed=True, notice=notice)
