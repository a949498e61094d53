"""Edits to a restaurant's configuration; each bumps ``config_version``, which
every process's :class:`~saveit.store.restaurants.RestaurantCache` revalidates
against."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from saveit.domain import errors
from saveit.domain.model import (
    Rules,
    SpecialDate,
    WeeklyService,
)
from saveit.store.restaurant_json import hours_to_json, rules_to_json
from saveit.store.schema import (
    combination_tables,
    combinations,
    dining_tables,
    restaurants,
    special_dates,
    weekly_services,
)


def _now() -> datetime:
    return datetime.now(UTC)


def bump(conn: Connection, restaurant_id: int) -> None:
    conn.execute(
        update(restaurants)
        .where(restaurants.c.id == restaurant_id)
        .values(config_version=restaurants.c.config_version + 1, updated_at=_now())
    )


def create(
    conn: Connection,
    *,
    slug: str,
    name: str,
    timezone: str,
    rules: Rules,
    contact: dict[str, str | None],
) -> int:
    if conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug)).first():
        raise errors.Conflict(f"Restaurant '{slug}' already exists", slug=slug)
    now = _now()
    result = conn.execute(
        insert(restaurants).values(
            slug=slug,
            name=name,
            timezone=timezone,
            rules=rules_to_json(rules),
            config_version=1,
            created_at=now,
            updated_at=now,
            **contact,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def update_profile(conn: Connection, restaurant_id: int, changes: dict[str, Any]) -> None:
    if changes:
        conn.execute(update(restaurants).where(restaurants.c.id == restaurant_id).values(**changes))
    bump(conn, restaurant_id)


def set_rules(conn: Connection, restaurant_id: int, rules: Rules) -> None:
    conn.execute(
        update(restaurants)
        .where(restaurants.c.id == restaurant_id)
        .values(rules=rules_to_json(rules))
    )
    bump(conn, restaurant_id)


def set_services(conn: Connection, restaurant_id: int, services: Iterable[WeeklyService]) -> None:
    conn.execute(delete(weekly_services).where(weekly_services.c.restaurant_id == restaurant_id))
    rows = [
        {
            "restaurant_id": restaurant_id,
            "weekday": s.weekday,
            "opens": s.hours.opens.strftime("%H:%M"),
            "closes": s.hours.closes.strftime("%H:%M"),
            "name": s.hours.name,
        }
        for s in services
    ]
    if rows:
        conn.execute(insert(weekly_services), rows)
    bump(conn, restaurant_id)


def put_special_date(conn: Connection, restaurant_id: int, special: SpecialDate) -> None:
    conn.execute(
        delete(special_dates).where(
            special_dates.c.restaurant_id == restaurant_id, special_dates.c.day == special.day
        )
    )
    conn.execute(
        insert(special_dates).values(
            restaurant_id=restaurant_id,
            day=special.day,
            closed=special.closed,
            hours=[hours_to_json(h) for h in special.hours],
            note=special.note,
        )
    )
    bump(conn, restaurant_id)


def delete_special_date(conn: Connection, restaurant_id: int, day: date) -> None:
    gone = conn.execute(
        delete(special_dates).where(
            special_dates.c.restaurant_id == restaurant_id, special_dates.c.day == day
        )
    ).rowcount
    if not gone:
        raise errors.NotFound(f"No special date {day.isoformat()}")
    bump(conn, restaurant_id)


def _table_id(conn: Connection, restaurant_id: int, code: str) -> int:
    found = conn.execute(
        select(dining_tables.c.id).where(
            dining_tables.c.restaurant_id == restaurant_id, dining_tables.c.code == code
        )
    ).scalar()
    if found is None:
        raise errors.NotFound(f"No table '{code}'", table=code)
    return int(found)


def upsert_table(
    conn: Connection,
    restaurant_id: int,
    *,
    code: str,
    area: str,
    min_capacity: int,
    max_capacity: int,
    active: bool = True,
) -> None:
    if not 1 <= min_capacity <= max_capacity:
        raise errors.ValidationFailed("Capacities must satisfy 1 <= min_capacity <= max_capacity")
    values = {
        "area": area,
        "min_capacity": min_capacity,
        "max_capacity": max_capacity,
        "active": active,
    }
    existing = conn.execute(
        select(dining_tables.c.id).where(
            dining_tables.c.restaurant_id == restaurant_id, dining_tables.c.code == code
        )
    ).scalar()
    if existing is None:
        conn.execute(insert(dining_tables).values(restaurant_id=restaurant_id, code=code, **values))
    else:
        conn.execute(update(dining_tables).where(dining_tables.c.id == existing).values(**values))
    bump(conn, restaurant_id)


def deactivate_table(conn: Connection, restaurant_id: int, code: str) -> None:
    """Tables are retired, never deleted: past reservations still name them."""
    table_id = _table_id(conn, restaurant_id, code)
    conn.execute(update(dining_tables).where(dining_tables.c.id == table_id).values(active=False))
    bump(conn, restaurant_id)


def upsert_combination(
    conn: Connection,
    restaurant_id: int,
    *,
    code: str,
    table_codes: list[str],
    min_capacity: int,
    max_capacity: int,
) -> None:
    if len(set(table_codes)) < 2:
        raise errors.ValidationFailed("A combination joins at least two different tables")
    if not 1 <= min_capacity <= max_capacity:
        raise errors.ValidationFailed("Capacities must satisfy 1 <= min_capacity <= max_capacity")
    table_ids = [_table_id(conn, restaurant_id, c) for c in dict.fromkeys(table_codes)]
    existing = conn.execute(
        select(combinations.c.id).where(
            combinations.c.restaurant_id == restaurant_id, combinations.c.code == code
        )
    ).scalar()
    if existing is None:
        result = conn.execute(
            insert(combinations).values(
                restaurant_id=restaurant_id,
                code=code,
                min_capacity=min_capacity,
                max_capacity=max_capacity,
            )
        )
        assert result.inserted_primary_key is not None
        combo_id = int(result.inserted_primary_key[0])
    else:
        combo_id = int(existing)
        conn.execute(
            update(combinations)
            .where(combinations.c.id == combo_id)
            .values(min_capacity=min_capacity, max_capacity=max_capacity)
        )
        conn.execute(
            delete(combination_tables).where(combination_tables.c.combination_id == combo_id)
        )
    conn.execute(
        insert(combination_tables),
        [{"combination_id": combo_id, "table_id": tid} for tid in table_ids],
    )
    bump(conn, restaurant_id)


def delete_combination(conn: Connection, restaurant_id: int, code: str) -> None:
    gone = conn.execute(
        delete(combinations).where(
            combinations.c.restaurant_id == restaurant_id, combinations.c.code == code
        )
    ).rowcount
    if not gone:
        raise errors.NotFound(f"No combination '{code}'", combination=code)
    bump(conn, restaurant_id)
