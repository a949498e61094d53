"""A restaurant's configuration, changed by its managers and owners.

Every edit is one unit of work through the restaurant repository, which bumps
``config_version`` so each process's cached copy reloads on its next request;
this process drops its copy once the edit has committed, so the new
configuration applies here at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from saveit.admin.setup import CombinationSpec, RestaurantSpec, TableSpec, apply_spec
from saveit.domain import errors
from saveit.domain.model import Restaurant, Rules, SpecialDate, WeeklyService
from saveit.domain.schedule import local_today
from saveit.store.restaurants import Profile, RestaurantCache, RestaurantRepository
from saveit.store.unit_of_work import Database


@dataclass(frozen=True, slots=True)
class ProfileView:
    """What the public profile shows: who, how to reach, when open (from ``today``)."""

    profile: Profile
    restaurant: Restaurant
    today: dt.date


class RestaurantAdmin:
    def __init__(
        self,
        db: Database,
        *,
        cache: RestaurantCache,
        configuration: Callable[[str], Restaurant],
        clock: Callable[[], dt.datetime],
    ) -> None:
        """``cache``: this process's configurations; ``configuration``: a slug's, as
        the booking service reads it (the cache, trusted for a moment)."""
        self.db = db
        self.cache = cache
        self.configuration = configuration
        self.clock = clock

    def _edit(self, slug: str, change: Callable[[RestaurantRepository, int], Any]) -> Any:
        with self.db.unit_of_work() as uow:
            done = change(uow.restaurants, uow.restaurants.id_of(slug))
            uow.after_commit(lambda: self.cache.forget(slug))
        return done

    # --- reads ------------------------------------------------------------------------------

    def restaurant(self, slug: str) -> Restaurant:
        return self.configuration(slug)

    def profile(self, slug: str) -> ProfileView:
        with self.db.reading() as r:
            found = r.restaurants.profile(slug)
            restaurant = self.cache.get(r, slug)  # checked against its version
        return ProfileView(found, restaurant, local_today(restaurant, self.clock()))

    # --- edits ------------------------------------------------------------------------------

    def create(self, spec: RestaurantSpec) -> ProfileView:
        if not apply_spec(self.db, spec):
            raise errors.Conflict(f"Restaurant '{spec.slug}' already exists", slug=spec.slug)
        return self.profile(spec.slug)

    def change_profile(self, slug: str, changes: dict[str, Any]) -> ProfileView:
        self._edit(slug, lambda repo, rid: repo.update_profile(rid, changes))
        return self.profile(slug)

    def set_rules(self, slug: str, rules: Rules) -> Rules:
        self._edit(slug, lambda repo, rid: repo.set_rules(rid, rules))
        return self.restaurant(slug).rules

    def set_services(self, slug: str, weekly: Iterable[WeeklyService]) -> Restaurant:
        services = list(weekly)
        self._edit(slug, lambda repo, rid: repo.set_services(rid, services))
        return self.restaurant(slug)

    def put_special_date(self, slug: str, special: SpecialDate) -> None:
        self._edit(slug, lambda repo, rid: repo.put_special_date(rid, special))

    def delete_special_date(self, slug: str, day: dt.date) -> None:
        self._edit(slug, lambda repo, rid: repo.delete_special_date(rid, day))

    def put_table(self, slug: str, table: TableSpec) -> None:
        self._edit(slug, lambda repo, rid: repo.upsert_table(rid, **table.model_dump()))

    def deactivate_table(self, slug: str, code: str) -> None:
        self._edit(slug, lambda repo, rid: repo.deactivate_table(rid, code))

    def put_combination(self, slug: str, combination: CombinationSpec) -> None:
        def upsert(repo: RestaurantRepository, rid: int) -> None:
            try:
                repo.upsert_combination(
                    rid,
                    code=combination.code,
                    table_codes=combination.tables,
                    min_capacity=combination.min_capacity,
                    max_capacity=combination.max_capacity,
                )
            except errors.NotFound as exc:  # a table named in the body, not the resource
                raise errors.ValidationFailed(exc.detail, **exc.data) from None

        self._edit(slug, upsert)

    def delete_combination(self, slug: str, code: str) -> None:
        self._edit(slug, lambda repo, rid: repo.delete_combination(rid, code))
