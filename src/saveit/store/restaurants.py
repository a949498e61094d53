"""Restaurant configuration: rows <-> the domain's ``Restaurant``, and its edits.

Every edit bumps ``config_version``; :class:`RestaurantCache` keeps each
process's parsed copy and reloads it when that number moves, so the hot path
costs one indexed lookup instead of five queries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import time
from time import monotonic
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select
from sqlalchemy import Table as Table_

from saveit.domain import errors
from saveit.domain.model import (
    Combination,
    Restaurant,
    ServiceHours,
    SpecialDate,
    Table,
    WeeklyService,
)
from saveit.store.repository import Repository, bound

# Re-exported while callers outside the store still call the module's functions;
# the unit of work's repository is the way in (drop these once none do).
from saveit.store.restaurant_edits import bump as bump
from saveit.store.restaurant_edits import create as create
from saveit.store.restaurant_edits import deactivate_table as deactivate_table
from saveit.store.restaurant_edits import delete_combination as delete_combination
from saveit.store.restaurant_edits import delete_special_date as delete_special_date
from saveit.store.restaurant_edits import put_special_date as put_special_date
from saveit.store.restaurant_edits import set_rules as set_rules
from saveit.store.restaurant_edits import set_services as set_services
from saveit.store.restaurant_edits import update_profile as update_profile
from saveit.store.restaurant_edits import upsert_combination as upsert_combination
from saveit.store.restaurant_edits import upsert_table as upsert_table
from saveit.store.restaurant_json import hours_from_json, rules_from_json
from saveit.store.schema import (
    combination_tables,
    combinations,
    dining_tables,
    restaurants,
    special_dates,
    weekly_services,
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
    return load_many(conn, [restaurant_id])[restaurant_id]


def load_many(conn: Connection, ids: Sequence[int]) -> dict[int, Restaurant]:
    """Several restaurants' configurations in six queries, whatever their number
    (a process loads many at once when it starts: see ``RestaurantCache.preload``).
    A missing id raises, as ``load`` of one does."""
    ids = list(ids)
    rows = conn.execute(select(restaurants).where(restaurants.c.id.in_(ids))).all()
    if len(rows) != len(set(ids)):
        raise errors.NotFound("No such restaurant", ids=sorted(set(ids) - {r.id for r in rows}))

    def children(table: Table_, *order: Any) -> dict[int, list[Any]]:
        found: dict[int, list[Any]] = {i: [] for i in ids}
        query = select(table).where(table.c.restaurant_id.in_(ids)).order_by(*order)
        for row in conn.execute(query):
            found[row.restaurant_id].append(row)
        return found

    services = children(weekly_services, weekly_services.c.weekday, weekly_services.c.opens)
    specials = children(special_dates, special_dates.c.day)
    tables = children(dining_tables, dining_tables.c.code)
    combos = children(combinations, combinations.c.code)
    members: dict[int, list[int]] = {}
    combo_ids = [c.id for found in combos.values() for c in found]
    if combo_ids:
        for combo_id, table_id in conn.execute(
            select(combination_tables.c.combination_id, combination_tables.c.table_id).where(
                combination_tables.c.combination_id.in_(combo_ids)
            )
        ):
            members.setdefault(combo_id, []).append(table_id)
    return {
        row.id: _restaurant(
            row, services[row.id], specials[row.id], tables[row.id], combos[row.id], members
        )
        for row in rows
    }


def _restaurant(
    row: Any,
    services: list[Any],
    specials: list[Any],
    tables: list[Any],
    combos: list[Any],
    members: dict[int, list[int]],
) -> Restaurant:
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
_VERSIONS_OF = select(restaurants.c.slug, restaurants.c.id, restaurants.c.config_version).where(
    restaurants.c.slug.in_(bindparam("slugs", expanding=True))
)
RECHECK_BATCH = 500  # held copies re-checked together with the one asked for, at most


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
        """The configuration and the ``config_version`` it was loaded at.

        When a copy is due for its re-check, every other held copy that is due (or
        will be within half the period) is re-checked in the same query: with many
        restaurants, one round trip a period instead of one per restaurant. Each
        copy is still trusted at most ``recheck_s`` after its own check."""
        found = self.trusted(slug)
        if found is not None:
            return found
        conn = source if isinstance(source, Connection) else source.connection
        now = self._clock()
        others = self._due(now, slug)
        if others:
            rows = conn.execute(_VERSIONS_OF, {"slugs": [slug, *others]}).all()
            versions = {r.slug: (r.id, r.config_version) for r in rows}
            self._confirm(versions, others, now)
            mine = versions.get(slug)
        else:
            row = conn.execute(_VERSION_OF, {"slug": slug}).one_or_none()
            mine = None if row is None else (row.id, row.config_version)
        if mine is None:
            raise errors.NotFound(f"No restaurant '{slug}'", slug=slug)
        restaurant_id, version = mine
        with self._lock:
            cached = self._entries.get(slug)
        if cached is not None and cached[0] == version and cached[1].id == restaurant_id:
            fresh = cached[1]
        else:
            fresh = load(conn, restaurant_id)
        with self._lock:
            self._entries[slug] = (version, fresh, now)
        return fresh, int(version)

    def preload(self, source: Connection | Bound, limit: int) -> int:
        """Load up to ``limit`` restaurants' configurations (the oldest first) in a
        few queries, and trust them from now: what a process does as it starts, so
        that its first guest of each restaurant — right after a deploy, every
        guest — does not wait for seven queries of its own. Returns how many."""
        conn = source if isinstance(source, Connection) else source.connection
        rows = conn.execute(
            select(restaurants.c.id, restaurants.c.config_version)
            .order_by(restaurants.c.id)
            .limit(limit)
        ).all()
        loaded: dict[int, Restaurant] = {}
        for at in range(0, len(rows), RECHECK_BATCH):
            loaded |= load_many(conn, [r.id for r in rows[at : at + RECHECK_BATCH]])
        now = self._clock()
        with self._lock:
            for row in rows:
                restaurant = loaded[row.id]
                self._entries[restaurant.slug] = (row.config_version, restaurant, now)
        return len(rows)

    def _due(self, now: float, slug: str) -> list[str]:
        """Held copies (other than ``slug``) whose re-check is due within half a period."""
        if self.recheck_s <= 0:
            return []
        horizon = now - self.recheck_s / 2
        with self._lock:
            due = [s for s, (_, _, at) in self._entries.items() if at <= horizon and s != slug]
        return due[:RECHECK_BATCH]

    def _confirm(self, versions: dict[str, tuple[int, int]], slugs: list[str], now: float) -> None:
        """Held copies still at the version read are trusted again from ``now``; the
        others are dropped, to be loaded when next asked for."""
        with self._lock:
            for s in slugs:
                held = self._entries.get(s)
                if held is None:
                    continue
                current = versions.get(s)
                if current is not None and current == (held[1].id, held[0]):
                    self._entries[s] = (held[0], held[1], now)
                else:
                    del self._entries[s]

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


def id_of(conn: Connection, slug: str) -> int:
    found = conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug)).scalar()
    if found is None:
        raise errors.NotFound(f"No restaurant '{slug}'", slug=slug)
    return int(found)


def name_and_slug(conn: Connection, restaurant_id: int) -> tuple[str, str]:
    name, slug = conn.execute(
        select(restaurants.c.name, restaurants.c.slug).where(restaurants.c.id == restaurant_id)
    ).one()
    return str(name), str(slug)


class RestaurantRepository(Repository):
    """A restaurant's configuration: profile, rules, hours, tables."""

    load = bound(load)
    profile = bound(profile)
    bump = bound(bump)
    id_of = bound(id_of)
    create = bound(create)
    update_profile = bound(update_profile)
    set_rules = bound(set_rules)
    set_services = bound(set_services)
    put_special_date = bound(put_special_date)
    delete_special_date = bound(delete_special_date)
    upsert_table = bound(upsert_table)
    deactivate_table = bound(deactivate_table)
    upsert_combination = bound(upsert_combination)
    delete_combination = bound(delete_combination)
    name_and_slug = bound(name_and_slug)
