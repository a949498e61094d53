"""Restaurant configuration and staff tokens, behind :mod:`saveit.admin`.

Bodies reuse ``saveit.admin.setup``'s specs so the API and a seed file accept
exactly the same documents; answers are :mod:`saveit.api.responses` models.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response

from saveit.admin.restaurants import ProfileView
from saveit.admin.setup import (
    COMBINATION_CODE,
    TABLE_CODE,
    CombinationSpec,
    RestaurantSpec,
    RulesSpec,
    ServiceSpec,
    SpecialDateSpec,
    TableSpec,
    services_as_specs,
)
from saveit.admin.staff_tokens import TokenInfo
from saveit.api.auth import Admin, ManagerOf, OwnerOf, require_staff
from saveit.api.deps import ContainerDep, Services
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
from saveit.domain.model import Restaurant

router = APIRouter(prefix="/v1/restaurants", tags=["admin"])

# Checked by TableSpec / CombinationSpec (as ``code``); the schema states it.
TableCodePath = Annotated[str, Path(json_schema_extra={"pattern": TABLE_CODE, "maxLength": 32})]
CombinationCodePath = Annotated[
    str, Path(json_schema_extra={"pattern": COMBINATION_CODE, "maxLength": 64})
]


def _profile(view: ProfileView) -> RestaurantProfile:
    return restaurant_profile(view.profile, view.restaurant, view.today)


@router.post("", status_code=201)
def create_restaurant(
    spec: RestaurantSpec, actor: Admin, response: Response, services: Services
) -> RestaurantProfile:
    created = services.restaurants.create(spec)
    response.headers["Location"] = f"/v1/restaurants/{spec.slug}"
    return _profile(created)


@router.patch("/{slug}")
def change_profile(
    slug: str, body: ProfileChanges, actor: OwnerOf, services: Services
) -> RestaurantProfile:
    changes: dict[str, Any] = body.model_dump(include={"name", "timezone"}, exclude_none=True)
    if body.contact is not None:
        changes |= body.contact.model_dump(include=body.contact.model_fields_set)
    return _profile(services.restaurants.change_profile(slug, changes))


# --- rules and opening hours -------------------------------------------------------------


@router.get("/{slug}/rules")
def get_rules(slug: str, actor: ManagerOf, services: Services) -> RulesSpec:
    return RulesSpec.from_domain(services.restaurants.restaurant(slug).rules)


@router.put("/{slug}/rules")
def put_rules(slug: str, rules: RulesSpec, actor: ManagerOf, services: Services) -> RulesSpec:
    return RulesSpec.from_domain(services.restaurants.set_rules(slug, rules.to_domain()))


def _services(restaurant: Restaurant) -> list[ServiceSpec]:
    return services_as_specs(restaurant.services)


@router.get("/{slug}/services")
def get_services(slug: str, actor: ManagerOf, services: Services) -> list[ServiceSpec]:
    return _services(services.restaurants.restaurant(slug))


@router.put("/{slug}/services")
def put_services(
    slug: str,
    body: Annotated[list[ServiceSpec], Body(max_length=50)],
    actor: ManagerOf,
    services: Services,
) -> list[ServiceSpec]:
    weekly = [w for s in body for w in s.weekly()]
    return _services(services.restaurants.set_services(slug, weekly))


@router.get("/{slug}/special-dates")
def list_special_dates(slug: str, actor: ManagerOf, services: Services) -> list[SpecialDate]:
    return special_dates(services.restaurants.restaurant(slug), dt.date.min)


@router.put("/{slug}/special-dates/{day}", response_model=SpecialDate)
def put_special_date(
    slug: str, day: Day, body: SpecialDateBody, actor: ManagerOf, services: Services
) -> dict[str, Any]:
    spec = SpecialDateSpec.model_validate({"date": day, **body.model_dump()})
    services.restaurants.put_special_date(slug, spec.to_domain())
    return spec.model_dump(mode="json")


@router.delete("/{slug}/special-dates/{day}", status_code=204)
def delete_special_date(slug: str, day: Day, actor: ManagerOf, services: Services) -> None:
    services.restaurants.delete_special_date(slug, day)


# --- tables and combinations ---------------------------------------------------------------


@router.get("/{slug}/tables")
def list_tables(slug: str, actor: ManagerOf, services: Services) -> list[Table]:
    return [
        Table(
            code=t.code,
            area=t.area,
            min_capacity=t.min_capacity,
            max_capacity=t.max_capacity,
            active=t.active,
        )
        for t in services.restaurants.restaurant(slug).tables
    ]


@router.put("/{slug}/tables/{code}", response_model=Table)
def put_table(
    slug: str, code: TableCodePath, body: TableBody, actor: ManagerOf, services: Services
) -> dict[str, Any]:
    spec = TableSpec.model_validate({"code": code, **body.model_dump()})
    services.restaurants.put_table(slug, spec)
    return spec.model_dump()


@router.delete("/{slug}/tables/{code}", status_code=204)
def deactivate_table(slug: str, code: str, actor: ManagerOf, services: Services) -> None:
    services.restaurants.deactivate_table(slug, code)


@router.get("/{slug}/combinations")
def list_combinations(slug: str, actor: ManagerOf, services: Services) -> list[Combination]:
    restaurant = services.restaurants.restaurant(slug)
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
    services: Services,
) -> dict[str, Any]:
    spec = CombinationSpec.model_validate({"code": code, **body.model_dump()})
    services.restaurants.put_combination(slug, spec)
    return spec.model_dump()


@router.delete("/{slug}/combinations/{code}", status_code=204)
def delete_combination(slug: str, code: str, actor: ManagerOf, services: Services) -> None:
    services.restaurants.delete_combination(slug, code)


# --- staff tokens ----------------------------------------------------------------------------


@router.post("/{slug}/tokens", status_code=201)
def issue_token(
    slug: str, body: NewToken, request: Request, container: ContainerDep, services: Services
) -> IssuedToken:
    """Issue a token; its secret is in this answer only. It expires after ``ttl_days``
    (default ``SAVEIT_STAFF_TOKEN_TTL_DAYS``, at most ``SAVEIT_STAFF_TOKEN_MAX_TTL_DAYS``)."""
    require_staff(request, container, slug, "owner")
    issued = services.tokens.issue(
        slug,
        role=body.role,
        name=body.name,
        display_name=body.display_name,
        ttl_days=body.ttl_days,
    )
    return IssuedToken(
        restaurant=slug,
        role=body.role,
        name=body.name,
        display_name=body.display_name,
        expires_at=issued.expires_at.isoformat(),
        token=issued.secret,
    )


def _token(info: TokenInfo) -> StaffToken:
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
def list_tokens(slug: str, actor: OwnerOf, services: Services) -> list[StaffToken]:
    """Every token of the restaurant, revoked and expired ones included; never a secret."""
    return [_token(t) for t in services.tokens.listed(slug)]


@router.delete("/{slug}/tokens/{token_id}", status_code=204)
def revoke_token(slug: str, token_id: RowId, actor: OwnerOf, services: Services) -> None:
    """Revoke a token at once: requests with it get 401, and its open live-feed sockets
    close within ``SAVEIT_LIVE_TOKEN_RECHECK_S``."""
    services.tokens.revoke(slug, token_id)
