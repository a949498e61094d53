"""Console sessions: the cookie holds a random token, the database only its
SHA-256, so a leaked database hands out no working session.

A session works until ``expires_at`` (absolute), until it has been idle for the
idle timeout, or until it is revoked (sign-out, password change or reset,
removal), whichever comes first. ``last_seen_at`` is written at most once per
``SEEN_PRECISION``: a write per page view would cost every click a transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from saveit.store.repository import Repository, bound
from saveit.store.schema import staff_accounts, staff_sessions

SEEN_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    token_hash: str
    account_id: int
    email: str
    name: str
    language: str | None
    must_change_password: bool
    last_seen_at: datetime
    expires_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, account_id: int, *, now: datetime, ttl: timedelta) -> str:
    """Start a session and return its token: the only time the token is ever seen."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(staff_sessions).values(
            token_hash=digest(token),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def live(conn: Connection, token: str, *, now: datetime, idle: timedelta) -> SessionRecord | None:
    """The session, with its person, unless it is unknown, revoked, expired or idle."""
    row = conn.execute(
        select(
            staff_sessions.c.id,
            staff_sessions.c.token_hash,
            staff_sessions.c.account_id,
            staff_accounts.c.email,
            staff_accounts.c.name,
            staff_accounts.c.language,
            staff_accounts.c.must_change_password,
            staff_sessions.c.last_seen_at,
            staff_sessions.c.expires_at,
        )
        .join(staff_accounts, staff_accounts.c.id == staff_sessions.c.account_id)
        .where(
            staff_sessions.c.token_hash == digest(token),
            staff_sessions.c.revoked_at.is_(None),
            staff_sessions.c.expires_at > now,
            staff_sessions.c.last_seen_at > now - idle,
        )
    ).one_or_none()
    return None if row is None else SessionRecord(*row)


def touch(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(
        update(staff_sessions)
        .where(
            staff_sessions.c.id == session_id,
            staff_sessions.c.last_seen_at <= now - SEEN_PRECISION,
        )
        .values(last_seen_at=now)
    )


def revoke(conn: Connection, token: str, now: datetime) -> None:
    conn.execute(
        update(staff_sessions)
        .where(staff_sessions.c.token_hash == digest(token), staff_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all(conn: Connection, account_id: int, now: datetime) -> int:
    """Revoke every live session of a person; how many there were."""
    result = conn.execute(
        update(staff_sessions)
        .where(staff_sessions.c.account_id == account_id, staff_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


class StaffSessionRepository(Repository):
    """Console sessions: opened, looked up, revoked."""

    open_session = bound(open_session)
    live = bound(live)
    touch = bound(touch)
    revoke = bound(revoke)
    revoke_all = bound(revoke_all)
