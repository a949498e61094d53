"""Setup: the tables and the combinations of tables that seat one party, checked
by the API's ``TableSpec`` and ``CombinationSpec`` and saved through the admin
service (a table is never deleted, only made inactive, as in the API)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from saveit.admin.setup import CombinationSpec, TableSpec
from saveit.console.pages.setup import save, show
from saveit.console.session import AtRestaurant, Form, ManagerAt, services_of
from saveit.console.setup_forms import build, checked, refusal
from saveit.domain import errors

router = APIRouter(prefix="/console/r/{slug}/setup/tables", include_in_schema=False)

TABLE_FIELDS = ("code", "area", "min_capacity", "max_capacity", "active")
COMBINATION_FIELDS = ("code", "tables", "min_capacity", "max_capacity")
_SEPARATORS = re.compile(r"[\s,;+]+")


def _context(request: Request, at: AtRestaurant) -> dict[str, Any]:
    restaurant = services_of(request).restaurants.restaurant(at.slug)
    codes = {t.id: t.code for t in restaurant.tables}
    combinations = [
        (c, sorted(codes[t] for t in c.table_ids if t in codes)) for c in restaurant.combinations
    ]
    return {"combinations": combinations}


@router.get("")
def tables_page(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "tables", **_context(request, at))


def _put_table(request: Request, at: AtRestaurant, code: str, form: Form, target: str) -> Response:
    def change() -> None:
        values = {
            "code": code,
            "area": form.get("area", ""),
            "min_capacity": form.get("min_capacity", ""),
            "max_capacity": form.get("max_capacity", ""),
            "active": checked(form, "active"),
        }
        services_of(request).restaurants.put_table(at.slug, build(TableSpec, values))

    return save(
        request,
        at,
        "tables",
        target=target,
        form=form,
        fields=TABLE_FIELDS,
        change=change,
        done="setup.saved",
        context=lambda: _context(request, at),
    )


@router.post("/new")
def add_table(request: Request, at: ManagerAt, form: Form) -> Response:
    return _put_table(request, at, form.get("code", "").strip(), form, "table-new")


@router.post("/combinations/new")
def put_combination(request: Request, at: ManagerAt, form: Form) -> Response:
    def change() -> None:
        values = {
            "code": form.get("code", ""),
            "tables": [c for c in _SEPARATORS.split(form.get("tables", "")) if c],
            "min_capacity": form.get("min_capacity", ""),
            "max_capacity": form.get("max_capacity", ""),
        }
        combination = build(CombinationSpec, values)
        try:
            services_of(request).restaurants.put_combination(at.slug, combination)
        except errors.DomainError as exc:  # the tables it names, or how many they seat
            field = "min_capacity" if exc.detail.startswith("Capacities") else "tables"
            raise refusal(exc, at.visit.lang, field) from None

    return save(
        request,
        at,
        "tables",
        target="combination-new",
        form=form,
        fields=COMBINATION_FIELDS,
        change=change,
        done="setup.saved",
        context=lambda: _context(request, at),
    )


@router.post("/combinations/{code}/remove")
def remove_combination(request: Request, at: ManagerAt, code: str, form: Form) -> Response:
    return save(
        request,
        at,
        "tables",
        target=f"combination-{code}",
        form=form,
        fields=(),
        change=lambda: services_of(request).restaurants.delete_combination(at.slug, code),
        done="setup.removed",
        context=lambda: _context(request, at),
    )


@router.post("/{code}")
def change_table(request: Request, at: ManagerAt, code: str, form: Form) -> Response:
    return _put_table(request, at, code, form, f"table-{code}")
