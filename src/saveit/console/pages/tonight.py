"""Tonight (hosts): the day's timeline per table and its list, and every action a
host takes on a booking — a phone booking on a free time, a walk-in, a move (by
dragging or with the move form), an edit, confirm, seat, cancel, no-show,
complete.

Every change goes through the booking service with the version the host saw
(``version`` in each form, the API's ``If-Match``): a booking someone changed
meanwhile is refused with a message and shown as it is now, never overwritten.
A move is the service's one atomic change: a taken table or time leaves the
booking where it was.

Without JavaScript every form posts and the answer is the whole page; with htmx
the answer is the fragment (``#tonight-day``, ``#tonight-detail``,
``#tonight-new``, ``#tonight-walk-in``), and a change tells the page to redraw
the day (``HX-Trigger: tonight-changed``). Other screens learn of it from the
live feed (:mod:`saveit.console.live`, ``static/live.js``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from fastapi import APIRouter, Request, Response

from saveit.console import messages_tonight as _messages  # noqa: F401 - registers texts
from saveit.console import nav
from saveit.console.floor import CHANNELS, STATUSES, Booking, Filters, Floor, build
from saveit.console.i18n import translate
from saveit.console.problems import said
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, HostAt, PageError, services_of
from saveit.domain import errors
from saveit.domain.commands import (
    Actor,
    ModifyReservation,
)
from saveit.domain.model import Restaurant
from saveit.domain.schedule import day_of, local_today
from saveit.domain.views import ReservationView

router = APIRouter(prefix="/console/r/{slug}/tonight", include_in_schema=False)

nav.register(nav.NavEntry("tonight", "tonight.nav", "tonight", "host", 10))

ACTIONS = ("confirm", "check-in", "complete", "no-show", "cancel")
MAX_PARTY = 1000


def _hx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def actor_of(at: AtRestaurant) -> Actor:
    session = at.visit.session
    return Actor("staff", session.email, "console")


def _day(request: Request, restaurant: Restaurant) -> date:
    asked = request.query_params.get("date", "")
    if asked:
        try:
            return date.fromisoformat(asked)
        except ValueError:
            raise PageError(404, "error.404") from None
    return local_today(restaurant, services_of(request).booking.clock())


def _view_of(request: Request) -> str:
    return "list" if request.query_params.get("view") == "list" else "timeline"


def _base(at: AtRestaurant) -> str:
    return f"/console/r/{at.slug}/tonight"


def _links(at: AtRestaurant, day: date, view: str, filters: Filters) -> dict[str, str]:
    def href(path: str, **extra: str) -> str:
        query = {"date": day.isoformat(), "view": view, **filters.query(), **extra}
        return f"{_base(at)}{path}?{urlencode(query)}"

    return {
        "refresh": href("/day"),
        "rows": href("/rows"),
        "prev": href("", date=(day - timedelta(days=1)).isoformat()),
        "next": href("", date=(day + timedelta(days=1)).isoformat()),
        "timeline": href("", view="timeline"),
        "list": href("", view="list"),
    }


def _ours(request: Request, at: AtRestaurant, code: str) -> ReservationView:
    """The booking, if it is this restaurant's (another's is "not found", as on
    PostgreSQL row-level security would have it anyway)."""
    try:
        view = services_of(request).booking.get(code)
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    if view.restaurant_id != at.restaurant_id:
        raise PageError(404, "error.404")
    return view


def _booking(request: Request, at: AtRestaurant, code: str) -> tuple[Booking, Floor]:
    """The booking as it is now (its version is the one forms carry), with its day."""
    services = services_of(request)
    view = _ours(request, at, code)
    restaurant = services.booking.restaurant(at.slug)
    floor = build(services.sheets.sheet(at.slug, day_of(restaurant, view.start)), Filters())
    tz = restaurant.tz
    booking = Booking(
        view, floor.sheet.allergies_of(view), view.start.astimezone(tz), view.end.astimezone(tz)
    )
    return booking, floor


def _context(request: Request, at: AtRestaurant, day: date, **extra: Any) -> dict[str, Any]:
    services = services_of(request)
    view = _view_of(request)
    filters = Filters.of(request.query_params.items())
    floor: Floor = build(services.sheets.sheet(at.slug, day), filters, at.visit.lang)
    restaurant = floor.sheet.restaurant
    values: dict[str, Any] = {
        "floor": floor,
        "day": day,
        "day_label": format_date(day, format="full", locale=at.visit.lang),
        "today": local_today(restaurant, services.booking.clock()),
        "view": view,
        "links": _links(at, day, view, filters),
        "base": _base(at),
        "statuses": STATUSES,
        "channels": CHANNELS,
        "parties": range(1, restaurant.rules.max_party_size + 1),
        "tables": [t for t in restaurant.tables if t.active],
        "detail": None,
        "move_times": [],
        "problem": None,
        "notice": None,
        "new": {"problem": None, "field": None, "notice": None, "entered": {}, "free": None},
        "walk": {"problem": None, "field": None, "notice": None, "entered": {}},
    }
    values.update(extra)
    return values


def _page(
    request: Request, at: AtRestaurant, day: date, status: int = 200, **extra: Any
) -> Response:
    return render(
        "tonight/page.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="tonight",
        status=status,
        **_context(request, at, day, **extra),
    )


@router.get("")
def tonight(request: Request, at: HostAt) -> Response:
    restaurant = services_of(request).booking.restaurant(at.slug)
    day = _day(request, restaurant)
    opened = request.query_params.get("open")
    if not opened:
        return _page(request, at, day)
    booking, floor = _booking(request, at, opened)
    return _page(request, at, day, **_detail_values(at, booking, floor))


@router.get("/day")
def day_fragment(request: Request, at: HostAt) -> Response:
    restaurant = services_of(request).booking.restaurant(at.slug)
    day = _day(request, restaurant)
    return render(
        "tonight/_day.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="tonight",
        **_context(request, at, day),
    )


@router.get("/rows")
def rows_fragment(request: Request, at: HostAt) -> Response:
    """Only the timeline rows of ``?tables=`` (and the day's summary): what a live
    change redraws, instead of the whole day. When the timeline's span changed
    (``?origin=``/``?columns=`` differ) the answer is empty with
    ``X-Tonight-Redraw: day``: the page then redraws the day."""
    restaurant = services_of(request).booking.restaurant(at.slug)
    day = _day(request, restaurant)
    context = _context(request, at, day)
    timeline = context["floor"].timeline
    query = request.query_params
    if query.get("origin") != timeline.origin_utc or query.get("columns") != str(timeline.columns):
        return Response(status_code=200, headers={"X-Tonight-Redraw": "day"})
    wanted = set(query.get("tables", "").split(","))
    return render(
        "tonight/_rows.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="tonight",
        **context,
        wanted=wanted,
    )


# --- one booking -------------------------------------------------------------------------


def _detail(
    request: Request,
    at: AtRestaurant,
    code: str,
    *,
    status: int = 200,
    changed: bool = False,
    **extra: Any,
) -> Response:
    booking, floor = _booking(request, at, code)
    if not _hx(request):
        return _page(
            request, at, floor.sheet.day, status, **_detail_values(at, booking, floor), **extra
        )
    values: dict[str, Any] = {"problem": None, "notice": None}
    values.update(extra)
    return render(
        "tonight/_detail.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        status=status,
        headers={"HX-Trigger": "tonight-changed"} if changed else None,
        **_detail_values(at, booking, floor),
        **values,
    )


def _detail_values(at: AtRestaurant, booking: Booking, floor: Floor) -> dict[str, Any]:
    restaurant = floor.sheet.restaurant
    return {
        "detail": booking,
        "base": _base(at),
        "tables": [t for t in restaurant.tables if t.active],
        "move_times": floor.timeline.starts(),
        "parties": range(1, max(restaurant.rules.max_party_size, booking.view.party_size) + 1),
    }


def _version(form: dict[str, str]) -> int | None:
    raw = form.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _refused(request: Request, at: AtRestaurant, code: str, exc: errors.DomainError) -> Response:
    """Shown in place, with the booking as it is now (its current version)."""
    lang = at.visit.lang
    if isinstance(exc, errors.Conflict):
        problem = translate(lang, "tonight.stale")
    elif isinstance(exc, errors.SlotTaken | errors.NoSuitableTable):
        problem = translate(lang, "tonight.taken")
    else:
        problem = said(lang, exc)
    return _detail(request, at, code, status=422, changed=True, problem=problem)


@router.get("/b/{code}")
def booking_detail(request: Request, at: HostAt, code: str) -> Response:
    return _detail(request, at, code)


@router.post("/b/{code}/move")
def move(request: Request, at: HostAt, code: str, form: Form) -> Response:
    _ours(request, at, code)
    try:
        start = datetime.fromisoformat(form.get("start", ""))
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        problem = translate(at.visit.lang, "tonight.bad_time")
        return _detail(request, at, code, status=422, problem=problem)
    table = form.get("table", "").strip()
    cmd = ModifyReservation(
        code=code,
        start=start,
        tables=(table,) if table else None,
        expected_version=_version(form),
    )
    try:
        view = services_of(request).booking.modify(cmd, actor_of(at))
    except errors.DomainError as exc:
        return _refused(request, at, code, exc)
    tz = services_of(request).booking.restaurant(at.slug).tz
    notice = translate(
        at.visit.lang,
        "tonight.done.move",
        time=f"{view.start.astimezone(tz):%H:%M}",
        tables=", ".join(view.tables) or "—",
    )
    return _detail(request, at, code, changed=True, notice=notice)


@router.post("/b/{code}/edit")
def edit(request: Request, at: HostAt, code: str, form: Form) -> Response:
    _ours(request, at, code)
    raw = form.get("party_size", "")
    party = int(raw) if raw.isdigit() and len(raw) < 5 else None
    notes = form.get("notes")
    cmd = ModifyReservation(
        code=code,
        party_size=party,
        notes=notes[:2000] if notes is not None else None,
        expected_version=_version(form),
    )
    try:
        services_of(request).booking.modify(cmd, actor_of(at))
    except errors.DomainError as exc:
        return _refused(request, at, code, exc)
    notice = translate(at.visit.lang, "tonight.done.edit")
    return _detail(request, at, code, changed=True, notice=notice)


@router.post("/b/{code}/{action}")
def change_status(request: Request, at: HostAt, code: str, action: str, form: Form) -> Response:
    if action not in ACTIONS:
        raise PageError(404, "error.404")
    _ours(request, at, code)
    booking = services_of(request).booking
    version = _version(form)
    actor = actor_of(at)
    try:
        if action == "cancel":
            booking.cancel(code, actor, expected_version=version)
        else:
            transition = {
                "confirm": booking.confirm,
                "check-in": booking.check_in,
                "complete": booking.complete,
                "no-show": booking.no_show,
            }[action]
            transition(code, actor, version)
    except errors.DomainError as exc:
        return _refused(request, at, code, exc)
    notice = translate(at.visit.lang, f"tonight.done.{action}")
    return _detail(request, at, code, changed=True, notice=notice)
