"""The Guests page (hosts and up): find a guest by name, phone or email; their
profile with contact details, language, allergies, visits and no-shows, bookings
and the conversation; staff's notes and tags, edited in place.

The search form works as a plain GET (the URL can be shared and bookmarked) and,
with htmx, refreshes only ``#guest-results`` as the person types. The notes form
posts to the profile's URL: htmx swaps ``#guest-notes`` (status 422 with the
service's message beside the field on a refusal); without JavaScript the answer
is the whole page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from saveit.admin.guests import GuestBook
from saveit.console import messages_inbox as messages_inbox
from saveit.console import nav
from saveit.console.problems import said
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, HostAt, PageError, services_of
from saveit.domain import errors

router = APIRouter(prefix="/console/r/{slug}/guests", include_in_schema=False)

nav.register(nav.NavEntry("guests", "guests.nav", "guests", "host", 50))


def _book(request: Request) -> GuestBook:
    return services_of(request).guests


def _hx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.get("")
def guests_page(request: Request, at: HostAt, q: str = "") -> Response:
    problem: str | None = None
    try:
        found = _book(request).search(at.slug, q)
    except errors.DomainError as exc:
        found, problem = [], said(at.visit.lang, exc)
    fragment = _hx(request) and request.headers.get("hx-target") == "guest-results"
    return render(
        "guests/_results.html" if fragment else "guests/page.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="guests",
        status=422 if problem else 200,
        q=q,
        found=found,
        problem=problem,
    )


def _profile(
    request: Request,
    at: AtRestaurant,
    guest_id: int,
    *,
    template: str = "guests/profile.html",
    status: int = 200,
    **extra: Any,
) -> Response:
    try:
        profile = _book(request).profile(at.slug, guest_id)
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    values: dict[str, Any] = {
        "profile": profile,
        "guest": profile.guest,
        "zone": profile.zone,
        "problem": None,
        "field": None,
        "saved": False,
        "entered": None,
    }
    values.update(extra)
    return render(
        template,
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="guests",
        status=status,
        **values,
    )


@router.get("/{guest_id}")
def guest_profile(request: Request, at: HostAt, guest_id: int) -> Response:
    return _profile(request, at, guest_id)


@router.post("/{guest_id}")
def annotate(request: Request, at: HostAt, guest_id: int, form: Form) -> Response:
    entered = {"notes": form.get("notes", ""), "tags": form.get("tags", "")}
    template = "guests/_notes.html" if _hx(request) else "guests/profile.html"
    try:
        _book(request).annotate(at.slug, guest_id, notes=entered["notes"], tags=entered["tags"])
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    except errors.DomainError as exc:
        return _profile(
            request,
            at,
            guest_id,
            template=template,
            status=422,
            problem=said(at.visit.lang, exc),
            field=exc.data.get("field"),
            entered=entered,
        )
    return _profile(request, at, guest_id, template=template, saved=True)
