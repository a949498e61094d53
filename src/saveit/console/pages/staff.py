"""The Staff page (owners): who works here, add a person with a role, change a
role, remove someone.

Each form posts to its own URL and works without JavaScript (the answer is the
whole page); with htmx it swaps only ``#staff-panel`` (the answer is the
fragment ``staff/_panel.html``, also at ``…/staff/panel``). A service's refusal
is shown next to the form with the service's own message, status 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from saveit.accounts import ROLES, Invited
from saveit.console import nav
from saveit.console.problems import said
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, OwnerAt, services_of
from saveit.domain import errors

router = APIRouter(prefix="/console/r/{slug}/staff", include_in_schema=False)

nav.register(nav.NavEntry("staff", "staff.nav", "staff", "owner", 90))


def _panel(
    request: Request,
    at: AtRestaurant,
    *,
    status: int = 200,
    fragment: bool | None = None,
    **context: Any,
) -> Response:
    services = services_of(request)
    members = services.staff.members(at.slug)
    if fragment is None:
        fragment = request.headers.get("hx-request") == "true"
    values: dict[str, Any] = {
        "members": members,
        "roles": ROLES,
        "problem": None,
        "field": None,
        "done": None,
        "invited": None,
        "entered": {},
        "target": None,
    }
    values.update(context)
    return render(
        "staff/_panel.html" if fragment else "staff/page.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="staff",
        status=status,
        **values,
    )


def _refused(
    request: Request, at: AtRestaurant, exc: errors.DomainError, **context: Any
) -> Response:
    return _panel(
        request,
        at,
        status=422,
        problem=said(at.visit.lang, exc),
        field=exc.data.get("field"),
        **context,
    )


@router.get("")
def staff_page(request: Request, at: OwnerAt) -> Response:
    return _panel(request, at, fragment=False)


@router.get("/panel")
def staff_panel(request: Request, at: OwnerAt) -> Response:
    return _panel(request, at, fragment=True)


@router.post("")
def add_person(request: Request, at: OwnerAt, form: Form) -> Response:
    entered = {k: form.get(k, "") for k in ("email", "name", "role")}
    try:
        invited: Invited = services_of(request).staff.invite(
            at.slug, email=entered["email"], name=entered["name"], role=entered["role"]
        )
    except errors.DomainError as exc:
        return _refused(request, at, exc, entered=entered, target="add")
    return _panel(request, at, invited=invited)


@router.post("/{account_id}/role")
def change_role(request: Request, at: OwnerAt, account_id: int, form: Form) -> Response:
    role = form.get("role", "")
    try:
        services_of(request).staff.change_role(at.slug, account_id, role)
    except errors.DomainError as exc:
        return _refused(request, at, exc, target=account_id)
    names = {m.account_id: m.name for m in services_of(request).staff.members(at.slug)}
    return _panel(request, at, done=("staff.role_saved", names.get(account_id, ""), role))


@router.post("/{account_id}/remove")
def remove_person(request: Request, at: OwnerAt, account_id: int, form: Form) -> Response:
    members = {m.account_id: m.name for m in services_of(request).staff.members(at.slug)}
    try:
        services_of(request).staff.remove(at.slug, account_id)
    except errors.DomainError as exc:
        return _refused(request, at, exc, target=account_id)
    if account_id == at.visit.session.account_id:  # removed oneself: signed out
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": "/console/sign-in"})
        return RedirectResponse("/console/sign-in", status_code=303)
    return _panel(request, at, done=("staff.removed", members.get(account_id, ""), None))
