"""Signing in to the console, the sessions that follow, and signing out.

A refused sign-in says the same thing whatever the reason — no such email, a
wrong password, a locked account — and costs the same time, so the answer never
tells whether an address has an account. Attempts are limited per client IP and
per email address (in Redis when there is one, shared by every API process),
and ``SAVEIT_CONSOLE_SIGNIN_FAILURES`` failures in a row lock the account for
``SAVEIT_CONSOLE_LOCKOUT_MINUTES``, counted on the account row so that the lock
holds across processes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from saveit.accounts.passwords import Passwords, checked_password, normalised_email
from saveit.accounts.roles import at_least
from saveit.config import Settings
from saveit.domain import errors
from saveit.ratelimit import RateLimited, RateLimiter, Rule
from saveit.store.errors import DatabaseError
from saveit.store.staff_accounts import Membership
from saveit.store.staff_sessions import SEEN_PRECISION
from saveit.store.staff_sessions import digest as session_digest
from saveit.store.unit_of_work import Database

log = logging.getLogger(__name__)

REFUSED = (
    "The email or the password is not right, or this account is paused after too many "
    "failed attempts. Try again, or ask the restaurant's owner."
)


class SignInRefused(errors.DomainError):
    """Wrong email, wrong password or a locked account: deliberately one answer."""

    code = "SIGNIN_REFUSED"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # goes in the cookie; never stored
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StaffSession:
    """The person behind a live session, and the restaurants they work for."""

    account_id: int
    email: str
    name: str
    language: str | None
    must_change_password: bool
    memberships: tuple[Membership, ...]
    token_hash: str  # binds CSRF tokens to this session

    def membership(self, slug: str) -> Membership | None:
        for found in self.memberships:
            if found.slug == slug:
                return found
        return None

    def may(self, slug: str, minimum: str) -> bool:
        found = self.membership(slug)
        return found is not None and at_least(found.role, minimum)


class SignIn:
    def __init__(
        self,
        db: Database,
        *,
        passwords: Passwords,
        limiter: RateLimiter,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.limiter = limiter
        self.clock = clock
        self.ttl = timedelta(hours=settings.console_session_hours)
        self.idle = timedelta(minutes=settings.console_idle_minutes)
        self.failures = settings.console_signin_failures
        self.lockout = timedelta(minutes=settings.console_lockout_minutes)
        per_minute = settings.console_signin_per_minute
        self.per_ip = Rule("console-signin-ip", per_minute, 60.0)
        self.per_email = Rule("console-signin-email", 2 * per_minute, 900.0)

    def sign_in(self, email: str, password: str, *, client_ip: str | None) -> OpenedSession:
        """A new session for the person, or :class:`SignInRefused` (or ``RateLimited``)."""
        key = email.strip().lower()
        self._throttle(client_ip, key)
        try:
            address = normalised_email(key)
        except errors.ValidationFailed:
            address = key
        now = self.clock()
        with self.db.reading() as r:
            record = r.staff.by_email(address)
        if record is None or (record.locked_until is not None and record.locked_until > now):
            self.passwords.waste(password)
            raise SignInRefused(REFUSED)
        if not self.passwords.verify(record.password_hash, password):
            with self.db.unit_of_work() as uow:
                locked = uow.staff.record_failure(
                    record.id, now=now, limit=self.failures, lockout=self.lockout
                )
            if locked:
                log.warning("staff account %s locked after failed sign-ins", record.id)
            raise SignInRefused(REFUSED)
        with self.db.unit_of_work() as uow:
            uow.staff.clear_failures(record.id)
            if self.passwords.needs_rehash(record.password_hash):
                uow.staff.set_password(
                    record.id,
                    self.passwords.hash(password),
                    must_change=record.must_change_password,
                    now=now,
                )
            token = uow.staff_sessions.open_session(record.id, now=now, ttl=self.ttl)
        return OpenedSession(token, now + self.ttl)

    def _throttle(self, client_ip: str | None, email: str) -> None:
        checks = [(self.per_email, hashlib.sha256(email.encode()).hexdigest()[:32])]
        if client_ip:
            checks.insert(0, (self.per_ip, client_ip))
        for rule, identity in checks:
            decision = self.limiter.hit(rule, identity)
            if not decision.allowed:
                raise RateLimited(
                    "Too many sign-in attempts; wait a moment and try again",
                    retry_after=int(decision.retry_after_header),
                )

    def session(self, token: str) -> StaffSession | None:
        """Whose session this is, unless it is unknown, revoked, expired or idle."""
        now = self.clock()
        with self.db.reading() as r:
            found = r.staff_sessions.live(token, now=now, idle=self.idle)
            if found is None:
                return None
            memberships = tuple(r.staff.memberships_of(found.account_id))
        if now - found.last_seen_at >= SEEN_PRECISION:
            try:
                with self.db.unit_of_work() as uow:
                    uow.staff_sessions.touch(found.id, now)
            except DatabaseError:
                log.warning("could not note the use of console session %s", found.id, exc_info=True)
        return StaffSession(
            found.account_id,
            found.email,
            found.name,
            found.language,
            found.must_change_password,
            memberships,
            found.token_hash,
        )

    def sign_out(self, token: str) -> None:
        with self.db.unit_of_work() as uow:
            uow.staff_sessions.revoke(token, self.clock())

    def change_password(self, session: StaffSession, current: str, new: str) -> OpenedSession:
        """Replace one's own password; every session (this one too) ends and this
        browser gets a fresh one."""
        now = self.clock()
        with self.db.reading() as r:
            record = r.staff.by_id(session.account_id)
        if record is None or not self.passwords.verify(record.password_hash, current):
            raise errors.ValidationFailed(
                "The current password is not right", field="current_password"
            )
        checked_password(new, email=record.email)
        if new == current:
            raise errors.ValidationFailed(
                "Choose a password different from the current one", field="new_password"
            )
        with self.db.unit_of_work() as uow:
            uow.staff.set_password(record.id, self.passwords.hash(new), must_change=False, now=now)
            uow.staff_sessions.revoke_all(record.id, now)
            token = uow.staff_sessions.open_session(record.id, now=now, ttl=self.ttl)
        return OpenedSession(token, now + self.ttl)

    def set_language(self, session: StaffSession, language: str | None) -> None:
        if language not in {None, "es", "en"}:
            raise errors.ValidationFailed("language must be es or en", field="language")
        with self.db.unit_of_work() as uow:
            uow.staff.set_language(session.account_id, language)


def token_hash(token: str) -> str:
    return session_digest(token)
