"""The Setup pages (managers and owners): an overview, the restaurant's profile
and time zone, its weekly services and its special dates. Tables, rules and
channel accounts have their own modules (``setup_tables``, ``setup_rules``,
``setup_channels``); every one renders through :func:`show`.

Each form is checked by the admin's own models and saved through the admin's
own service (:class:`saveit.admin.restaurants.RestaurantAdmin`), so the console
accepts and refuses exactly what the API does, with the same messages, shown
next to the field (status 422, nothing changed). Forms work without JavaScript
(the answer is the whole page); with htmx only ``#setup-panel`` is swapped.
Hosts get 403 on every page and post (the :data:`ManagerAt` guard); the profile
is changed by owners only, as ``PATCH /v1/restaurants/{slug}`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response

from saveit.admin.fields import TIMEZONES
from saveit.admin.setup import (
    WEEKDAYS,
    ProfileChanges,
    ServiceSpec,
    SpecialDateSpec,
    services_as_specs,
)
from saveit.console import i18n, messages_setup, nav
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, ManagerAt, OwnerAt, services_of
from saveit.console.setup_forms import (
    FORM,
    Refused,
    build,
    checked,
    day,
    refusal,
    text_or_none,
)
from saveit.domain import errors

router = APIRouter(prefix="/console/r/{slug}/setup", include_in_schema=False)

nav.register(nav.NavEntry("setup", "setup.nav", "setup", "manager", 80))

SECTIONS = ("profile", "hours", "dates", "tables", "rules", "channels")
__all__ = ["SECTIONS", "messages_setup", "router", "save", "show"]


def _fit(problems: Mapping[str, str], fields: Iterable[str]) -> dict[str, str]:
    """Problems on fields the form does not show go to the form's own message."""
    shown = set(fields)
    fitted: dict[str, str] = {}
    for found, text in problems.items():
        key = found
        while key not in shown and "-" in key:  # an item's problem is its list's
            key = key.rsplit("-", 1)[0]
        if key in shown:
            fitted.setdefault(key, text)
        else:
            extra = text if found == FORM else f"{found.replace('-', ' ')}: {text}"
            fitted[FORM] = f"{fitted[FORM]} {extra}" if FORM in fitted else extra
    return fitted


def show(
    request: Request,
    at: AtRestaurant,
    section: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The section's page, or (to htmx) its panel alone."""
    restaurant = services_of(request).restaurants.restaurant(at.slug)
    fragment = request.headers.get("hx-request") == "true"
    values: dict[str, Any] = {
        "section": section,
        "sections": SECTIONS,
        "panel": f"setup/{section}.html",
        "restaurant": restaurant,
        "problems": {},
        "entered": {},
        "target": None,
        "done": None,
        "weekdays": WEEKDAYS,
    }
    values.update(context)
    return render(
        values["panel"] if fragment else "setup/page.html",
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="setup",
        status=status,
        **values,
    )


def save(
    request: Request,
    at: AtRestaurant,
    section: str,
    *,
    target: str,
    form: Mapping[str, str],
    fields: Iterable[str],
    change: Callable[[], Any],
    done: str,
    context: Callable[[], dict[str, Any]] = dict,
) -> Response:
    """Run ``change``; a refusal re-shows the form as it was filled, with the
    messages next to their fields (422), and nothing is saved. ``context``: the
    section's values, read after the change."""
    try:
        change()
    except Refused as exc:
        problems = exc.problems
    except errors.DomainError as exc:
        problems = refusal(exc, at.visit.lang).problems
    else:
        return show(request, at, section, done=done, **context())
    return show(
        request,
        at,
        section,
        status=422,
        problems=_fit(problems, fields),
        entered=dict(form),
        target=target,
        **context(),
    )


# --- overview and profile -------------------------------------------------------------------


@router.get("")
def overview(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "overview", panel="setup/overview.html")


CONTACT_KEYS = ("phone", "email", "address", "website")
PROFILE_FIELDS = ("name", "timezone", *(f"contact-{k}" for k in CONTACT_KEYS))


def _profile(request: Request, at: AtRestaurant) -> dict[str, Any]:
    view = services_of(request).restaurants.profile(at.slug)
    return {"profile": view.profile, "timezones": TIMEZONES}


@router.get("/profile")
def profile_page(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "profile", **_profile(request, at))


@router.post("/profile")
def change_profile(request: Request, at: OwnerAt, form: Form) -> Response:
    def change() -> None:
        contact = {k: text_or_none(form, f"contact-{k}") for k in CONTACT_KEYS}
        body = build(
            ProfileChanges,
            {
                "name": form.get("name", ""),
                "timezone": form.get("timezone", ""),
                "contact": contact,
            },
        )
        changes: dict[str, Any] = body.model_dump(include={"name", "timezone"}, exclude_none=True)
        if body.contact is not None:
            changes |= body.contact.model_dump(include=body.contact.model_fields_set)
        services_of(request).restaurants.change_profile(at.slug, changes)

    return save(
        request,
        at,
        "profile",
        target="profile",
        form=form,
        fields=PROFILE_FIELDS,
        change=change,
        done="setup.saved",
        context=lambda: _profile(request, at),
    )


# --- weekly services ------------------------------------------------------------------------

HOURS_FIELDS = ("name", "opens", "closes", "days")


def _specs(request: Request, at: AtRestaurant) -> list[ServiceSpec]:
    return services_as_specs(services_of(request).restaurants.restaurant(at.slug).services)


def signature(spec: ServiceSpec) -> str:
    """What a row was when the form was drawn: an edit of a row someone else has
    changed meanwhile is refused rather than applied to another row."""
    return f"{spec.opens:%H:%M}-{spec.closes:%H:%M}-{'.'.join(spec.days)}-{spec.name}"


def _hours(request: Request, at: AtRestaurant) -> dict[str, Any]:
    return {"services": _specs(request, at), "signature": signature}


@router.get("/hours")
def hours_page(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "hours", **_hours(request, at))


def _put_services(request: Request, at: AtRestaurant, specs: list[ServiceSpec]) -> None:
    weekly = [w for s in specs for w in s.weekly()]
    services_of(request).restaurants.set_services(at.slug, weekly)


def _row(
    at: AtRestaurant, specs: list[ServiceSpec], index: str, form: Mapping[str, str]
) -> int | None:
    """The row ``index`` names, if it is still the one the form was drawn from."""
    if index == "new":
        return None
    position = int(index) if index.isdigit() else -1
    if not 0 <= position < len(specs) or signature(specs[position]) != form.get("was"):
        raise Refused({FORM: i18n.translate(at.visit.lang, "setup.hours.stale")})
    return position


@router.post("/hours/{index}")
def save_service(request: Request, at: ManagerAt, index: str, form: Form) -> Response:
    def change() -> None:
        specs = _specs(request, at)
        position = _row(at, specs, index, form)
        values = {
            "name": form.get("name", ""),
            "opens": form.get("opens", ""),
            "closes": form.get("closes", ""),
            "days": [d for d in WEEKDAYS if checked(form, d)],
        }
        spec = build(ServiceSpec, values)
        if position is None:
            specs.append(spec)
        else:
            specs[position] = spec
        _put_services(request, at, specs)

    return save(
        request,
        at,
        "hours",
        target=f"service-{index}",
        form=form,
        fields=HOURS_FIELDS,
        change=change,
        done="setup.saved",
        context=lambda: _hours(request, at),
    )


@router.post("/hours/{index}/remove")
def remove_service(request: Request, at: ManagerAt, index: str, form: Form) -> Response:
    def change() -> None:
        specs = _specs(request, at)
        position = _row(at, specs, index, form)
        assert position is not None
        del specs[position]
        _put_services(request, at, specs)

    return save(
        request,
        at,
        "hours",
        target=f"service-{index}",
        form=form,
        fields=HOURS_FIELDS,
        change=change,
        done="setup.removed",
        context=lambda: _hours(request, at),
    )


# --- special dates --------------------------------------------------------------------------

WINDOW_FIELDS = (f"hours-{i}-{k}" for i in (0, 1) for k in ("opens", "closes", "name"))
DATE_FIELDS = ("date", "closed", "note", *WINDOW_FIELDS)


@router.get("/dates")
def dates_page(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "dates")


@router.post("/dates")
def put_date(request: Request, at: ManagerAt, form: Form) -> Response:
    def change() -> None:
        windows = []
        for i in (0, 1):
            window = {k: form.get(f"hours-{i}-{k}", "").strip() for k in ("opens", "closes")}
            if any(window.values()):
                windows.append(window | {"name": form.get(f"hours-{i}-name", "")})
        values = {
            "date": day(form.get("date", "")),
            "closed": checked(form, "closed"),
            "hours": windows,
            "note": form.get("note", ""),
        }
        spec = build(SpecialDateSpec, values)
        services_of(request).restaurants.put_special_date(at.slug, spec.to_domain())

    return save(
        request,
        at,
        "dates",
        target="date",
        form=form,
        fields=DATE_FIELDS,
        change=change,
        done="setup.saved",
    )


@router.post("/dates/{when}/remove")
def remove_date(request: Request, at: ManagerAt, when: str, form: Form) -> Response:
    def change() -> None:
        services_of(request).restaurants.delete_special_date(at.slug, day(when))

    return save(
        request,
        at,
        "dates",
        target=f"date-{when}",
        form=form,
        fields=(),
        change=change,
        done="setup.removed",
    )
