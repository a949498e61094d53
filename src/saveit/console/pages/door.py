"""The door scanner (hosts): the device camera reads the guest's QR code and the
booking is checked in, with a result nobody can miss — a big welcome and the
table, or why not — and a list of who arrived today.

The camera and the QR decoding run in the browser (``static/door.js`` with the
vendored ZXing-C++ WebAssembly reader, ``static/zxing-reader.min.js`` and
``zxing_reader.wasm``); the decoded text is posted to ``POST …/door`` like the
typed booking code, and :meth:`saveit.checkin.CheckIn.admit` judges both. The
answer fills one of two live regions that stay on the page (``role=status`` for
a welcome, ``role=alert`` for a refusal) and refreshes the arrivals, as htmx
out-of-band swaps; without JavaScript the form posts and the whole page answers.

Only this page's document may compile WebAssembly: its Content-Security-Policy
adds ``'wasm-unsafe-eval'`` to ``script-src`` (Chromium refuses
``WebAssembly.instantiate`` without it; it allows compiling WebAssembly only,
not ``eval`` of JavaScript). Every other console page keeps the plain policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time
from fastapi import APIRouter, Request, Response

from saveit.console import i18n, nav
from saveit.console import messages_door as _messages  # noqa: F401 - registers the texts
from saveit.console.headers import CSP
from saveit.console.problems import said as said_in
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, HostAt, services_of
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.views import ReservationView

router = APIRouter(prefix="/console/r/{slug}/door", include_in_schema=False)

nav.register(nav.NavEntry("door", "door.nav", "door", "host", 20))

CSP_WITH_WASM = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", 1)
MAX_TEXT = 200  # a token is ~55 characters, a code at most 16; longer is refused unread


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the door shows after a scan: ``tone`` is ``welcome`` (green), ``warn``
    (amber: nothing wrong with the guest, but not now) or ``refused`` (red)."""

    tone: str
    title: str  # message id
    detail: str | None = None  # message id
    values: dict[str, str] = field(default_factory=dict)
    view: ReservationView | None = None
    said: str | None = None  # a service's own words, for refusals we have no text for


# code -> (tone, title, detail)
_REASONS: dict[str, tuple[str, str, str]] = {
    "ALREADY_CHECKED_IN": ("warn", "door.why.already", "door.why.already.detail"),
    "QR_TOO_EARLY": ("warn", "door.why.early", "door.why.early.detail"),
    "QR_SUPERSEDED": ("warn", "door.why.moved", "door.why.moved.detail"),
    "CONFLICT": ("warn", "door.why.busy", "door.why.busy.detail"),
    "QR_EXPIRED": ("refused", "door.why.expired", "door.why.expired.detail"),
    "RESERVATION_CANCELLED": ("refused", "door.why.cancelled", "door.why.cancelled.detail"),
    "RESERVATION_NO_SHOW": ("refused", "door.why.no_show", "door.why.no_show.detail"),
    "QR_WRONG_RESTAURANT": (
        "refused",
        "door.why.wrong_restaurant",
        "door.why.wrong_restaurant.detail",
    ),
    "QR_INVALID_SIGNATURE": ("refused", "door.why.forged", "door.why.forged.detail"),
    "QR_UNKNOWN_KEY": ("refused", "door.why.forged", "door.why.forged.detail"),
    "NOT_FOUND": ("refused", "door.why.unknown", "door.why.unknown.detail"),
}


def _actor(at: AtRestaurant) -> Actor:
    session = at.visit.session
    return Actor("staff", session.email, "console", display=session.name)


def _zone(request: Request, at: AtRestaurant) -> ZoneInfo:
    return services_of(request).checkin.booking.restaurant(at.slug).tz


def _clock(value: str | datetime, zone: ZoneInfo, lang: str) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    # 24-hour clock in both languages, as the opening hours are written
    return format_time(when.astimezone(zone), format="HH:mm", locale=lang)


def _refusal(request: Request, at: AtRestaurant, text: str, exc: errors.DomainError) -> Outcome:
    tone, title, detail = _REASONS.get(exc.code, ("refused", "door.why.other", ""))
    zone, lang = _zone(request, at), at.visit.lang
    values: dict[str, str] = {}
    if "opens_at" in exc.data:
        values["time"] = _clock(exc.data["opens_at"], zone, lang)
    if "closed_at" in exc.data:
        values["time"] = _clock(exc.data["closed_at"], zone, lang)
    if exc.code == "NOT_FOUND":
        values["code"] = str(exc.data.get("code") or text[:16])
    view = None
    if exc.code != "QR_WRONG_RESTAURANT":
        view = services_of(request).checkin.booking_named(at.slug, text)
    if view is not None:
        values["status"] = i18n.translate(lang, f"door.status.{view.status.value}")
    for key in ("time", "code", "status"):
        values.setdefault(key, "")
    return Outcome(
        tone,
        title,
        detail or None,
        values,
        view,
        said=None if detail else said_in(lang, exc),
    )


def _page(
    request: Request,
    at: AtRestaurant,
    *,
    outcome: Outcome | None = None,
    fragment: str | None = None,
    status: int = 200,
    entered: str = "",
) -> Response:
    services = services_of(request)
    context: dict[str, Any] = {
        "outcome": outcome,
        "arrived": services.checkin.arrivals(at.slug),
        "zone": _zone(request, at),
        "clock": _clock,
        "entered": entered,
    }
    template = fragment or "door/page.html"
    headers = {"Content-Security-Policy": CSP_WITH_WASM} if fragment is None else None
    return render(
        template,
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="door",
        status=status,
        headers=headers,
        **context,
    )


@router.get("")
def door(request: Request, at: HostAt) -> Response:
    return _page(request, at)


@router.get("/arrived")
def arrived(request: Request, at: HostAt) -> Response:
    return _page(request, at, fragment="door/_arrived.html")


@router.post("")
def check_in(request: Request, at: HostAt, form: Form) -> Response:
    text = form.get("code", "").strip()[:MAX_TEXT]
    try:
        view = services_of(request).checkin.admit(at.slug, text, _actor(at))
    except errors.DomainError as exc:
        outcome, status = _refusal(request, at, text, exc), 422
    else:
        outcome, status = Outcome("welcome", "door.welcome", view=view), 200
    htmx = request.headers.get("hx-request") == "true"
    fragment = "door/_answer.html" if htmx else None
    # Without JavaScript the page answers; what was typed stays only if it was refused.
    entered = text if status == 422 and "." not in text else ""
    return _page(request, at, outcome=outcome, fragment=fragment, status=status, entered=entered)
