"""Restaurant configuration and staff tokens.

Every edit runs in one transaction through ``store.restaurants``, which bumps
``config_version`` so each process's cached copy reloads on its next request.
Bodies reuse ``saveit.admin.setup``'s specs so the API and a seed file accept
exactly the same documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response
from sqlalchemy import Connection

from saveit.admin.setup import (
    COMBINATION_CODE,
    TABLE_CODE,
    WEEKDAYS,
    CombinationSpec,
    RestaurantSpec,
    RulesSpec,
    ServiceSpec,
    SpecialDateSpec,
    TableSpec,
    apply_spec,
)
from saveit.api.auth import Admin, ManagerOf, OwnerOf, require_staff
from saveit.api.deps import ContainerDep
from saveit.api.ids import RowId
from saveit.api.responses import (
    Combination,
    IssuedToken,
    RestaurantProfile,
    SpecialDate,
    StaffToken,
    Table,
    iso_or_none,
    restaurant_profile,
    special_dates,
)
from saveit.api.schemas import (
    CombinationBody,
    Day,
    NewToken,
    ProfileChanges,
    SpecialDateBody,
    TableBody,
)
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.model import Restaurant
from saveit.store import restaurants as store
from saveit.store import tokens

router = APIRouter(prefix="/v1/restaurants", tags=["admin"])

# Checked by TableSpec / CombinationSpec (as ``code``); the schema states it.
TableCodePath = Annotated[str, Path(json_schema_extra={"pattern": TABLE_CODE, "maxLength": 32})]
CombinationCodePath = Annotated[
    str, Path(json_schema_extra={"pattern": COMBINATION_CODE, "maxLength": 64})
]


@contextmanager
def editing(container: Container, slug: str) -> Iterator[tuple[Connection, int]]:
    with container.engine.begin() as conn:
        yield conn, store.id_of(conn, slug)
    container.booking.cache.forget(slug)  # the new configuration applies here at once


def _profile(container: Container, slug: str) -> RestaurantProfile:
    with container.booking.reading() as conn:
        found = store.profile(conn, slug)
        restaurant = container.booking.cache.get(conn, slug)
    today = container.booking.clock().astimezone(restaurant.tz).date()
    return restaurant_profile(found, restaurant, today)


@router.post("", status_code=201)
def create_restaurant(
    spec: RestaurantSpec, actor: Admin, response: Response, container: ContainerDep
) -> RestaurantProfile:
    if not apply_spec(container.engine, spec):
        raise errors.Conflict(f"Restaurant '{spec.slug}' already exists", slug=spec.slug)
    response.headers["Location"] = f"/v1/restaurants/{spec.slug}"
    return _profile(container, spec.slug)


@router.patch("/{slug}")
def change_profile(
    slug: str, body: ProfileChanges, actor: OwnerOf, container: ContainerDep
) -> RestaurantProfile:
    changes: dict[str, Any] = body.model_dump(include={"name", "timezone"}, exclude_none=True)
    if body.contact is not None:
        changes |= body.contact.model_dump(include=body.contact.model_fields_set)
    with editing(container, slug) as (conn, restaurant_id):
        store.update_profile(conn, restaurant_id, changes)
    return _profile(container, slug)


# --- rules and opening hours -------------------------------------------------------------


@router.get("/{slug}/rules")
def get_rules(slug: str, actor: ManagerOf, container: ContainerDep) -> RulesSpec:
    return RulesSpec.from_domain(container.booking.restaurant(slug).rules)


@router.put("/{slug}/rules")
def put_rules(slug: str, rules: RulesSpec, actor: ManagerOf, container: ContainerDep) -> RulesSpec:
    with editing(container, slug) as (conn, restaurant_id):
        store.set_rules(conn, restaurant_id, rules.to_domain())
    return get_rules(slug, actor, container)


def _services(restaurant: Restaurant) -> list[ServiceSpec]:
    """Weekly rows regrouped as one spec per distinct window, listing its days."""
    grouped: dict[tuple[dt.time, dt.time, str], list[str]] = {}
    for s in sorted(restaurant.services, key=lambda s: (s.hours.opens, s.weekday)):
        grouped.setdefault((s.hours.opens, s.hours.closes, s.hours.name), []).append(
            WEEKDAYS[s.weekday]
        )
    return [
        ServiceSpec(opens=opens, closes=closes, name=name, days=days)
        for (opens, closes, name), days in grouped.items()
    ]


@router.get("/{slug}/services")
def get_services(slug: str, actor: ManagerOf, container: ContainerDep) -> list[ServiceSpec]:
    return _services(container.booking.restaurant(slug))


@router.put("/{slug}/services")
def put_services(
    slug: str,
    services: Annotated[list[ServiceSpec], Body(max_length=50)],
    actor: ManagerOf,
    container: ContainerDep,
) -> list[ServiceSpec]:
    with editing(container, slug) as (conn, restaurant_id):
        store.set_services(conn, restaurant_id, [w for s in services for w in s.weekly()])
    return get_services(slug, actor, container)


@router.get("/{slug}/special-dates")
def list_special_dates(slug: str, actor: ManagerOf, container: ContainerDep) -> list[SpecialDate]:
    return special_dates(container.booking.restaurant(slug), dt.date.min)


@router.put("/{slug}/special-dates/{day}", response_model=SpecialDate)
def put_special_date(
    slug: str, day: Day, body: SpecialDateBody, actor: ManagerOf, container: ContainerDep
) -> dict[str, Any]:
    spec = SpecialDateSpec.model_validate({"date": day, **body.model_dump()})
    with editing(container, slug) as (conn, restaurant_id):
        store.put_special_date(conn, restaurant_id, spec.to_domain())
    return spec.model_dump(mode="json")


@router.delete("/{slug}/special-dates/{day}", status_code=204)
def delete_special_date(slug: str, day: Day, actor: ManagerOf, container: ContainerDep) -> None:
    with editing(container, slug) as (conn, restaurant_id):
        store.delete_special_date(conn, restaurant_id, day)


# --- tables and combinations ---------------------------------------------------------------


def _tables(restaurant: Restaurant) -> list[Table]:
    return [
        Table(
            code=t.code,
            area=t.area,
            min_capacity=t.min_capacity,
            max_capacity=t.max_capacity,
            active=t.active,
        )
        for t in restaurant.tables
    ]


@router.get("/{slug}/tables")
def list_tables(slug: str, actor: ManagerOf, container: ContainerDep) -> list[Table]:
    return _tables(container.booking.restaurant(slug))


@router.put("/{slug}/tables/{code}", response_model=Table)
def put_table(
    slug: str, code: TableCodePath, body: TableBody, actor: ManagerOf, container: ContainerDep
) -> dict[str, Any]:
    spec = TableSpec.model_validate({"code": code, **body.model_dump()})
    with editing(container, slug) as (conn, restaurant_id):
        store.upsert_table(conn, restaurant_id, **spec.model_dump())
    return spec.model_dump()


@router.delete("/{slug}/tables/{code}", status_code=204)
def deactivate_table(slug: str, code: str, actor: ManagerOf, container: ContainerDep) -> None:
    with editing(container, slug) as (conn, restaurant_id):
        store.deactivate_table(conn, restaurant_id, code)


@router.get("/{slug}/combinations")
def list_combinations(slug: str, actor: ManagerOf, container: ContainerDep) -> list[Combination]:
    restaurant = container.booking.restaurant(slug)
    return [
        Combination(
            code=c.code,
            tables=sorted(restaurant.table_by_id(t).code for t in c.table_ids),
            min_capacity=c.min_capacity,
            max_capacity=c.max_capacity,
        )
        for c in restaurant.combinations
    ]


@router.put("/{slug}/combinations/{code}", response_model=Combination)
def put_combination(
    slug: str,
    code: CombinationCodePath,
    body: CombinationBody,
    actor: ManagerOf,
    container: ContainerDep,
) -> dict[str, Any]:
    spec = CombinationSpec.model_validate({"code": code, **body.model_dump()})
    with editing(container, slug) as (conn, restaurant_id):
        try:
            store.upsert_combination(
                conn,
                restaurant_id,
                code=spec.code,
                table_codes=spec.tables,
                min_capacity=spec.min_capacity,
                max_capacity=spec.max_capacity,
            )
        except errors.NotFound as exc:  # a table named in the body, not the resource
            raise errors.ValidationFailed(exc.detail, **exc.data) from None
    return spec.model_dump()


@router.delete("/{slug}/combinations/{code}", status_code=204)
def delete_combination(slug: str, code: str, actor: ManagerOf, container: ContainerDep) -> None:
    with editing(container, slug) as (conn, restaurant_id):
        store.delete_combination(conn, restaurant_id, code)


# --- staff tokens ----------------------------------------------------------------------------


@router.post("/{slug}/tokens", status_code=201)
def issue_token(
    slug: str, body: NewToken, request: Request, container: ContainerDep
) -> IssuedToken:
    """Issue a token; its secret is in this answer only. It expires after ``ttl_days``
    (default ``SAVEIT_STAFF_TOKEN_TTL_DAYS``, at most ``SAVEIT_STAFF_TOKEN_MAX_TTL_DAYS``)."""
    require_staff(request, container, slug, "owner")
    settings = container.settings
    days = body.ttl_days or settings.staff_token_ttl_days
    if days > settings.staff_token_max_ttl_days:
        raise errors.ValidationFailed(
            f"ttl_days may be at most {settings.staff_token_max_ttl_days}",
            field="ttl_days",
            maximum=settings.staff_token_max_ttl_days,
        )
    now = container.booking.clock()
    with editing(container, slug) as (conn, restaurant_id):
        token = tokens.issue(
            conn,
            restaurant_id,
            role=body.role,
            name=body.name,
            display_name=body.display_name,
            now=now,
            ttl=dt.timedelta(days=days),
        )
    return IssuedToken(
        restaurant=slug,
        role=body.role,
        name=body.name,
        display_name=body.display_name,
        expires_at=(now + dt.timedelta(days=days)).isoformat(),
        token=token,
    )


def _token(info: tokens.TokenInfo) -> StaffToken:
    return StaffToken(
        id=info.id,
        name=info.name,
        display_name=info.display_name,
        role=info.role,
        created_at=iso_or_none(info.created_at),
        expires_at=iso_or_none(info.expires_at),
        revoked_at=iso_or_none(info.revoked_at),
        last_used_at=iso_or_none(info.last_used_at),
    )


@router.get("/{slug}/tokens")
def list_tokens(slug: str, actor: OwnerOf, container: ContainerDep) -> list[StaffToken]:
    """Every token of the restaurant, revoked and expired ones included; never a secret."""
    with container.booking.reading() as conn:
        return [_token(t) for t in tokens.listed(conn, store.id_of(conn, slug))]


@router.delete("/{slug}/tokens/{token_id}", status_code=204)
def revoke_token(slug: str, token_id: RowId, actor: OwnerOf, container: ContainerDep) -> None:
    """Revoke a token at once: requests with it get 401, and its open live-feed sockets
    close within ``SAVEIT_LIVE_TOKEN_RECHECK_S``."""
    with container.engine.begin() as conn:
        if not tokens.revoke(conn, store.id_of(conn, slug), token_id, container.booking.clock()):
            raise errors.NotFound("No such token", token_id=token_id)
