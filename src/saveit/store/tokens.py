"""Staff bearer tokens: only a SHA-256 of each token is stored, so a leaked
database does not hand out working credentials.

A token works from issue until ``expires_at`` or ``revoked_at``, whichever comes
first; both are checked on every use (the live feed re-checks open sockets).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, or_, select, update

from saveit.store.repository import Repository, bound
from saveit.store.schema import api_tokens, restaurants

ROLES = ("host", "manager", "owner")
"""Each role may do everything the roles before it may."""
DEFAULT_TTL = timedelta(days=90)  # SAVEIT_STAFF_TOKEN_TTL_DAYS's default
LAST_USED_PRECISION = timedelta(minutes=5)
"""``last_used_at`` is written at most this often per token: a write per request
would cost every staff call a transaction, and "used today" is what owners ask."""


@dataclass(frozen=True, slots=True)
class StaffToken:
    id: int
    restaurant_id: int
    restaurant: str  # slug
    role: str
    name: str
    display_name: str | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    def used_stale(self, now: datetime) -> bool:
        """Whether ``last_used_at`` is old enough to be written again."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_PRECISION


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What an owner may see of a token: everything but the secret."""

    id: int
    name: str
    display_name: str | None
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    conn: Connection,
    restaurant_id: int,
    *,
    role: str,
    name: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    display_name: str | None = None,
) -> str:
    """Create a token valid for ``ttl`` and return it; this is the only time it is ever seen."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            token_hash=digest(token),
            restaurant_id=restaurant_id,
            role=role,
            name=name,
            display_name=display_name,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def find(conn: Connection, token: str, now: datetime) -> StaffToken | None:
    """The token's holder, if it is neither revoked nor expired at ``now``."""
    row = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.restaurant_id,
            restaurants.c.slug,
            api_tokens.c.role,
            api_tokens.c.name,
            api_tokens.c.display_name,
            api_tokens.c.expires_at,
            api_tokens.c.last_used_at,
        )
        .join(restaurants, restaurants.c.id == api_tokens.c.restaurant_id)
        .where(
            api_tokens.c.token_hash == digest(token),
            api_tokens.c.revoked_at.is_(None),
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
        )
    ).one_or_none()
    if row is None:
        return None
    return StaffToken(
        row.id,
        row.restaurant_id,
        row.slug,
        row.role,
        row.name,
        row.display_name,
        row.expires_at,
        row.last_used_at,
    )


def mark_used(conn: Connection, token_id: int, now: datetime) -> None:
    """Note a use, unless one was noted less than ``LAST_USED_PRECISION`` ago."""
    conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            or_(
                api_tokens.c.last_used_at.is_(None),
                api_tokens.c.last_used_at <= now - LAST_USED_PRECISION,
            ),
        )
        .values(last_used_at=now)
    )


def listed(conn: Connection, restaurant_id: int) -> list[TokenInfo]:
    rows = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.display_name,
            api_tokens.c.role,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
            api_tokens.c.revoked_at,
            api_tokens.c.last_used_at,
        )
        .where(api_tokens.c.restaurant_id == restaurant_id)
        .order_by(api_tokens.c.id)
    )
    return [TokenInfo(*row) for row in rows]


def revoke(conn: Connection, restaurant_id: int, token_id: int, now: datetime) -> bool:
    """Revoke one of the restaurant's tokens; False when it has no such token.
    Revoking twice keeps the first time."""
    found = conn.execute(
        select(api_tokens.c.revoked_at).where(
            api_tokens.c.id == token_id, api_tokens.c.restaurant_id == restaurant_id
        )
    ).one_or_none()
    if found is None:
        return False
    if found.revoked_at is None:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
    return True


class TokenRepository(Repository):
    """Staff tokens: issued, checked, listed, revoked."""

    issue = bound(issue)
    find = bound(find)
    mark_used = bound(mark_used)
    listed = bound(listed)
    revoke = bound(revoke)
