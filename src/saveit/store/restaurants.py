"""Restaurant configuration: rows <-> the domain's ``Restaurant``, and its edits.

Every edit bumps ``config_version``; :class:`RestaurantCache` keeps each
process's parsed copy and reloads it when that number moves, so the hot path
costs one indexed lookup instead of five queries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from time import monotonic
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from saveit.domain import errors
from saveit.domain.model import (
    Combination,
    Restaurant,
    Rules,
    ServiceHours,
    SpecialDate,
    Table,
    TurnTime,
    WeeklyService,
)
from saveit.store.schema import (
    combination_tables,
    combinations,
    dining_tables,
    restaurants,
    special_dates,
    weekly_services,
)


def rules_to_json(rules: Rules) -> dict[str, Any]:
    return {
        "slot_minutes": rules.slot_minutes,
        "turn_times": [{"max_party": t.max_party, "minutes": t.minutes} for t in rules.turn_times],
        "buffer_minutes": rules.buffer_minutes,
        "min_lead_minutes": rules.min_lead_minutes,
        "max_days_ahead": rules.max_days_ahead,
        "max_party_size": rules.max_party_size,
        "cancel_cutoff_minutes": rules.cancel_cutoff_minutes,
        "pacing_covers_per_slot": rules.pacing_covers_per_slot,
        "checkin_early_minutes": rules.checkin_early_minutes,
        "checkin_late_minutes": rules.checkin_late_minutes,
        "no_show_grace_minutes": rules.no_show_grace_minutes,
        "no_show_approval_after": rules.no_show_approval_after,
        "verify_public_bookings": rules.verify_public_bookings,
    }


def rules_from_json(doc: dict[str, Any]) -> Rules:
    values = dict(doc)
    if "turn_times" in values:
        values["turn_times"] = tuple(TurnTime(**t) for t in values["turn_times"])
    return Rules(**values)


def hours_to_json(hours: ServiceHours) -> dict[str, str]:
    return {
        "opens": hours.opens.strftime("%H:%M"),
        "closes": hours.closes.strftime("%H:%M"),
        "name": hours.name,
    }


def hours_from_json(doc: dict[str, Any]) -> ServiceHours:
    return ServiceHours(
        time.fromisoformat(doc["opens"]), time.fromisoformat(doc["closes"]), doc.get("name", "")
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """Public face of a restaurant: who it is and how to reach it."""

    slug: str
    name: str
    timezone: str
    phone: str | None
    email: str | None
    address: str | None
    website: str | None


def load(conn: Connection, restaurant_id: int) -> Restaurant:
    row = conn.execute(select(restaurants).where(restaurants.c.id == restaurant_id)).one()
    services = conn.execute(
        select(weekly_services)
        .where(weekly_services.c.restaurant_id == restaurant_id)
        .order_by(weekly_services.c.weekday, weekly_services.c.opens)
    ).all()
    specials = conn.execute(
        select(special_dates)
        .where(special_dates.c.restaurant_id == restaurant_id)
        .order_by(special_dates.c.day)
    ).all()
    tables = conn.execute(
        select(dining_tables)
        .where(dining_tables.c.restaurant_id == restaurant_id)
        .order_by(dining_tables.c.code)
    ).all()
    combos = conn.execute(
        select(combinations)
        .where(combinations.c.restaurant_id == restaurant_id)
        .order_by(combinations.c.code)
    ).all()
    members: dict[int, list[int]] = {}
    if combos:
        for combo_id, table_id in conn.execute(
            select(combination_tables.c.combination_id, combination_tables.c.table_id).where(
                combination_tables.c.combination_id.in_([c.id for c in combos])
            )
        ):
            members.setdefault(combo_id, []).append(table_id)
    return Restaurant(
        id=row.id,
        slug=row.slug,
        name=row.name,
        timezone=row.timezone,
        rules=rules_from_json(row.rules),
        services=tuple(
            WeeklyService(
                s.weekday,
                ServiceHours(time.fromisoformat(s.opens), time.fromisoformat(s.closes), s.name),
            )
            for s in services
        ),
        special_dates=tuple(
            SpecialDate(s.day, s.closed, tuple(hours_from_json(h) for h in s.hours), s.note)
            for s in specials
        ),
        tables=tuple(
            Table(t.id, t.code, t.area, t.min_capacity, t.max_capacity, t.active) for t in tables
        ),
        combinations=tuple(
            Combination(
                c.id, c.code, tuple(sorted(members.get(c.id, []))), c.min_capacity, c.max_capacity
            )
            for c in combos
        ),
    )


def profile(conn: Connection, slug: str) -> Profile:
    row = conn.execute(select(restaurants).where(restaurants.c.slug == slug)).one_or_none()
    if row is None:
        raise errors.NotFound(f"No restaurant '{slug}'", slug=slug)
    return Profile(row.slug, row.name, row.timezone, row.phone, row.email, row.address, row.website)


_VERSION_OF = select(restaurants.c.id, restaurants.c.config_version).where(
    restaurants.c.slug == bindparam("slug")
)


class Bound(Protocol):
    """A unit of work, a reader, or a repository: what holds a connection."""

    @property
    def connection(self) -> Connection: ...


class RestaurantCache:
    """Per-process parsed configuration, revalidated against ``config_version``.

    ``recheck_s`` is how long a copy is trusted before the version is read again
    (0: on every use). Trusting it for a second saves a query on every booking
    and availability read; the price is that an edit made through *another*
    process applies here up to that long after its commit, like a booking that
    was already in flight when the edit landed. Edits in this process call
    :meth:`forget` and apply at once.
    """

    def __init__(self, *, recheck_s: float = 0.0, clock: Callable[[], float] = monotonic) -> None:
        self.recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, Restaurant, float]] = {}

    def trusted(self, slug: str) -> tuple[Restaurant, int] | None:
        """The copy and its config_version, if checked within ``recheck_s``; no
        database needed."""
        with self._lock:
            entry = self._entries.get(slug)
        if entry is not None and self._clock() - entry[2] < self.recheck_s:
            return entry[1], entry[0]
        return None

    def get(self, source: Connection | Bound, slug: str) -> Restaurant:
        """``source``: a unit of work, a reader or one of their repositories."""
        return self.get_versioned(source, slug)[0]

    def get_versioned(self, source: Connection | Bound, slug: str) -> tuple[Restaurant, int]:
        """The configuration and the ``config_version`` it was loaded at."""
        found = self.trusted(slug)
        if found is not None:
            return found
        conn = source if isinstance(source, Connection) else source.connection
        now = self._clock()
        row = conn.execute(_VERSION_OF, {"slug": slug}).one_or_none()
        if row is None:
            raise errors.NotFound(f"No restaurant '{slug}'", slug=slug)
        with self._lock:
            cached = self._entries.get(slug)
        if cached is not None and cached[0] == row.config_version and cached[1].id == row.id:
            fresh = cached[1]
        else:
            fresh = load(conn, row.id)
        with self._lock:
            self._entries[slug] = (row.config_version, fresh, now)
        return fresh, int(row.config_version)

    def cached(self, slug: str) -> Restaurant | None:
        """This process's copy, however old: for work that only needs the time
        zone and hours, right after a request that has just revalidated it."""
        with self._lock:
            entry = self._entries.get(slug)
        return entry[1] if entry is not None else None

    def forget(self, slug: str) -> None:
        with self._lock:
            self._entries.pop(slug, None)

    def get_by_id(self, source: Connection | Bound, restaurant_id: int) -> Restaurant:
        conn = source if isinstance(source, Connection) else source.connection
        slug = conn.execute(
            select(restaurants.c.slug).where(restaurants.c.id == restaurant_id)
        ).scalar_one()
        return self.get(conn, slug)


# --- edits -----------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def bump(conn: Connection, restaurant_id: int) -> None:
    conn.execute(
        update(restaurants)
        .where(restaurants.c.id == restaurant_id)
        .values(config_version=restaurants.c.config_version + 1, updated_at=_now())
    )


def id_of(conn: Connection, slug: str) -> int:
    found = conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug)).scalar()
    if found is None:
        raise errors.NotFound(f"No restaurant '{slug}'", slug=slug)
    return int(found)


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


def name_and_slug(conn: Connection, restaurant_id: int) -> tuple[str, str]:
    name, slug = conn.execute(
        select(restaurants.c.name, restaurants.c.slug).where(restaurants.c.id == restaurant_id)
    ).one()
    return str(name), str(slug)


class RestaurantRepository:
    """A restaurant's configuration: profile, rules, hours, tables.

    Bound to one unit of work's connection; see :mod:`saveit.store.unit_of_work`.
    """

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def load(self, restaurant_id: int) -> Restaurant:
        return load(self.connection, restaurant_id)

    def profile(self, slug: str) -> Profile:
        return profile(self.connection, slug)

    def bump(self, restaurant_id: int) -> None:
        bump(self.connection, restaurant_id)

    def id_of(self, slug: str) -> int:
        return id_of(self.connection, slug)

    def create(
        self,
        *,
        slug: str,
        name: str,
        timezone: str,
        rules: Rules,
        contact: dict[str, str | None],
    ) -> int:
        return create(
            self.connection,
            slug=slug,
            name=name,
            timezone=timezone,
            rules=rules,
            contact=contact,
        )

    def update_profile(self, restaurant_id: int, changes: dict[str, Any]) -> None:
        update_profile(self.connection, restaurant_id, changes)

    def set_rules(self, restaurant_id: int, rules: Rules) -> None:
        set_rules(self.connection, restaurant_id, rules)

    def set_services(self, restaurant_id: int, services: Iterable[WeeklyService]) -> None:
        set_services(self.connection, restaurant_id, services)

    def put_special_date(self, restaurant_id: int, special: SpecialDate) -> None:
        put_special_date(self.connection, restaurant_id, special)

    def delete_special_date(self, restaurant_id: int, day: date) -> None:
        delete_special_date(self.connection, restaurant_id, day)

    def upsert_table(
        self,
        restaurant_id: int,
        *,
        code: str,
        area: str,
        min_capacity: int,
        max_capacity: int,
        active: bool = True,
    ) -> None:
        upsert_table(
            self.connection,
            restaurant_id,
            code=code,
            area=area,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            active=active,
        )

    def deactivate_table(self, restaurant_id: int, code: str) -> None:
        deactivate_table(self.connection, restaurant_id, code)

    def upsert_combination(
        self,
        restaurant_id: int,
        *,
        code: str,
        table_codes: list[str],
        min_capacity: int,
        max_capacity: int,
    ) -> None:
        upsert_combination(
            self.connection,
            restaurant_id,
            code=code,
            table_codes=table_codes,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )

    def delete_combination(self, restaurant_id: int, code: str) -> None:
        delete_combination(self.connection, restaurant_id, code)

    def name_and_slug(self, restaurant_id: int) -> tuple[str, str]:
        return name_and_slug(self.connection, restaurant_id)
