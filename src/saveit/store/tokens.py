"""Staff bearer tokens: only a SHA-256 of each token is stored, so a leaked
database does not hand out working credentials."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from saveit.store.schema import api_tokens, restaurants

ROLES = ("host", "manager", "owner")
"""Each role may do everything the roles before it may."""


@dataclass(frozen=True, slots=True)
class StaffToken:
    id: int
    restaurant_id: int
    restaurant: str  # slug
    role: str
    name: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(conn: Connection, restaurant_id: int, *, role: str, name: str, now: datetime) -> str:
    """Create a token and return it; this is the only time it is ever seen."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            token_hash=digest(token),
            restaurant_id=restaurant_id,
            role=role,
            name=name,
            created_at=now,
        )
    )
    return token


def find(conn: Connection, token: str) -> StaffToken | None:
    row = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.restaurant_id,
            restaurants.c.slug,
            api_tokens.c.role,
            api_tokens.c.name,
        )
        .join(restaurants, restaurants.c.id == api_tokens.c.restaurant_id)
        .where(api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    return StaffToken(row.id, row.restaurant_id, row.slug, row.role, row.name)
