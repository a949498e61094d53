"""Staff tokens: issued by an owner (or the admin), listed, revoked, and looked up
on every staff request.

A token's secret exists only in the answer to its issue; the database keeps a
digest. Lookups note when a token was last used, to the nearest few minutes, and
that bookkeeping write is never the reason a request fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from saveit.domain import errors
from saveit.store.errors import DatabaseError
from saveit.store.tokens import ROLES, StaffToken, TokenInfo
from saveit.store.unit_of_work import Database

__all__ = ["ROLES", "IssuedToken", "StaffToken", "StaffTokens", "TokenInfo"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    secret: str
    expires_at: dt.datetime


class StaffTokens:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], dt.datetime],
        default_ttl_days: int,
        max_ttl_days: int,
    ) -> None:
        self.db = db
        self.clock = clock
        self.default_ttl_days = default_ttl_days
        self.max_ttl_days = max_ttl_days

    def issue(
        self,
        slug: str,
        *,
        role: str,
        name: str,
        display_name: str | None,
        ttl_days: int | None,
    ) -> IssuedToken:
        days = ttl_days or self.default_ttl_days
        if days > self.max_ttl_days:
            raise errors.ValidationFailed(
                f"ttl_days may be at most {self.max_ttl_days}",
                field="ttl_days",
                maximum=self.max_ttl_days,
            )
        now = self.clock()
        with self.db.unit_of_work() as uow:
            secret = uow.tokens.issue(
                uow.restaurants.id_of(slug),
                role=role,
                name=name,
                display_name=display_name,
                now=now,
                ttl=dt.timedelta(days=days),
            )
        return IssuedToken(secret, now + dt.timedelta(days=days))

    def listed(self, slug: str) -> list[TokenInfo]:
        """Every token of the restaurant, revoked and expired ones included."""
        with self.db.reading() as r:
            return r.tokens.listed(r.restaurants.id_of(slug))

    def revoke(self, slug: str, token_id: int) -> None:
        with self.db.unit_of_work() as uow:
            if not uow.tokens.revoke(uow.restaurants.id_of(slug), token_id, self.clock()):
                raise errors.NotFound("No such token", token_id=token_id)

    def holder(self, secret: str) -> StaffToken | None:
        """Whose token this is, unless it is unknown, revoked or expired."""
        now = self.clock()
        with self.db.reading() as r:
            found = r.tokens.find(secret, now)
        if found is not None and found.used_stale(now):
            try:
                with self.db.unit_of_work() as uow:
                    uow.tokens.mark_used(found.id, now)
            except DatabaseError:
                log.warning("could not note the use of staff token %s", found.id, exc_info=True)
        return found
