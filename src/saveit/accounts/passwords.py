"""Passwords: hashed with argon2id (argon2-cffi's defaults, RFC 9106's
low-memory profile), checked in constant time, rehashed when the parameters move.

An unknown email is checked against a fixed dummy hash, so a sign-in for an
address without an account costs what a wrong password costs: the answer's
timing does not tell which addresses exist.
"""

from __future__ import annotations

import secrets
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email

from saveit.domain import errors

MIN_LENGTH = 10
MAX_LENGTH = 128


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()

    @cached_property
    def _dummy(self) -> str:
        return self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def waste(self, password: str) -> None:
        """Spend a verification's time on nothing (an unknown email, a locked account)."""
        self.verify(self._dummy, password)

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


def checked_password(password: str, *, email: str) -> str:
    """The password, if the rule allows it (length; not the email itself)."""
    if len(password) < MIN_LENGTH:
        raise errors.ValidationFailed(
            f"The password needs at least {MIN_LENGTH} characters",
            field="password",
            minimum=MIN_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        raise errors.ValidationFailed(
            f"The password may have at most {MAX_LENGTH} characters",
            field="password",
            maximum=MAX_LENGTH,
        )
    if password.strip().lower() == email:
        raise errors.ValidationFailed("The password must not be the email", field="password")
    return password


def temporary_password() -> str:
    """A password to hand over once, to be replaced at the first sign-in."""
    return secrets.token_urlsafe(12)


def normalised_email(email: str) -> str:
    """The address as stored and compared: validated, lower case."""
    try:
        found = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise errors.ValidationFailed("This is not a valid email address", field="email") from exc
    return found.normalized.lower()
