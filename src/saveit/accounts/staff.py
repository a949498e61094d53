"""People and memberships: the command line adds people, resets passwords and
removes them; an owner adds staff to their restaurant, changes roles and removes
people in the console.

A person added by an owner gets a temporary password, shown to the owner once
and never stored in clear, which must be replaced at the first sign-in. Someone
who already has an account (they work for another restaurant) keeps their
password and simply gains the membership. A restaurant always keeps at least
one owner. Removing a person, or resetting their password, ends every session
they have open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from saveit.accounts.passwords import (
    Passwords,
    checked_password,
    normalised_email,
    temporary_password,
)
from saveit.accounts.roles import checked_role
from saveit.domain import errors
from saveit.store.staff_accounts import Member
from saveit.store.unit_of_work import Database, UnitOfWork

NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class Invited:
    account_id: int
    email: str
    temporary_password: str | None  # None: the person already had an account


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise errors.ValidationFailed("A name is needed", field="name")
    if len(cleaned) > NAME_MAX:
        raise errors.ValidationFailed(
            f"The name may have at most {NAME_MAX} characters", field="name", maximum=NAME_MAX
        )
    return cleaned


class StaffAccounts:
    def __init__(
        self, db: Database, *, passwords: Passwords, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.clock = clock

    # --- the command line ---------------------------------------------------------

    def exists(self, email: str) -> bool:
        with self.db.reading() as r:
            return r.staff.by_email(normalised_email(email)) is not None

    def add(self, slug: str, *, email: str, name: str, role: str, password: str | None) -> bool:
        """Give a person ``role`` at ``slug``, creating their account with ``password``
        if they have none. True when the account was created."""
        address = normalised_email(email)
        checked_role(role)
        now = self.clock()
        with self.db.unit_of_work() as uow:
            restaurant_id = uow.restaurants.id_of(slug)
            found = uow.staff.by_email(address)
            if found is None:
                if password is None:
                    raise errors.ValidationFailed(
                        "A new account needs a password", field="password"
                    )
                account_id = uow.staff.add_account(
                    email=address,
                    name=_name(name),
                    password_hash=self.passwords.hash(checked_password(password, email=address)),
                    must_change_password=False,
                    now=now,
                )
            else:
                account_id = found.id
            self._join(uow, account_id, restaurant_id, role, now)
        return found is None

    def reset_password(self, email: str, password: str, *, temporary: bool = False) -> None:
        """Set a new password (lifting any lockout) and end every session."""
        address = normalised_email(email)
        now = self.clock()
        with self.db.unit_of_work() as uow:
            found = uow.staff.by_email(address)
            if found is None:
                raise errors.NotFound("No staff account with this email", email=address)
            checked_password(password, email=address)
            uow.staff.set_password(
                found.id, self.passwords.hash(password), must_change=temporary, now=now
            )
            uow.staff_sessions.revoke_all(found.id, now)

    def delete(self, email: str) -> None:
        """Remove a person from every restaurant, with their sessions."""
        address = normalised_email(email)
        with self.db.unit_of_work() as uow:
            found = uow.staff.by_email(address)
            if found is None or not uow.staff.delete_account(found.id):
                raise errors.NotFound("No staff account with this email", email=address)

    # --- an owner in the console ----------------------------------------------------

    def members(self, slug: str) -> list[Member]:
        with self.db.reading() as r:
            return r.staff.members(r.restaurants.id_of(slug))

    def invite(self, slug: str, *, email: str, name: str, role: str) -> Invited:
        """Add a person to the staff; a new account gets a temporary password."""
        address = normalised_email(email)
        checked_role(role)
        cleaned = _name(name)
        now = self.clock()
        secret = None
        with self.db.unit_of_work() as uow:
            restaurant_id = uow.restaurants.id_of(slug)
            found = uow.staff.by_email(address)
            if found is None:
                secret = temporary_password()
                account_id = uow.staff.add_account(
                    email=address,
                    name=cleaned,
                    password_hash=self.passwords.hash(secret),
                    must_change_password=True,
                    now=now,
                )
            else:
                account_id = found.id
            self._join(uow, account_id, restaurant_id, role, now)
        return Invited(account_id, address, secret)

    def change_role(self, slug: str, account_id: int, role: str) -> None:
        checked_role(role)
        with self.db.unit_of_work() as uow:
            restaurant_id = uow.restaurants.id_of(slug)
            current = self._role(uow, account_id, restaurant_id)
            if current == "owner" and role != "owner":
                self._keep_an_owner(uow, restaurant_id)
            uow.staff.set_role(account_id, restaurant_id, role)

    def remove(self, slug: str, account_id: int) -> None:
        """Take a person off this restaurant's staff and end their sessions. Their
        account stays for the other restaurants they work for."""
        now = self.clock()
        with self.db.unit_of_work() as uow:
            restaurant_id = uow.restaurants.id_of(slug)
            if self._role(uow, account_id, restaurant_id) == "owner":
                self._keep_an_owner(uow, restaurant_id)
            uow.staff.remove_membership(account_id, restaurant_id)
            uow.staff_sessions.revoke_all(account_id, now)

    def remove_by_email(self, slug: str, email: str) -> None:
        address = normalised_email(email)
        with self.db.reading() as r:
            found = r.staff.by_email(address)
        if found is None:
            raise errors.NotFound("No staff account with this email", email=address)
        self.remove(slug, found.id)

    # --- shared -----------------------------------------------------------------

    @staticmethod
    def _join(
        uow: UnitOfWork, account_id: int, restaurant_id: int, role: str, now: datetime
    ) -> None:
        if uow.staff.role_at(account_id, restaurant_id) is not None:
            raise errors.Conflict("This person is already on the staff", field="email")
        uow.staff.add_membership(account_id, restaurant_id, role=role, now=now)

    @staticmethod
    def _role(uow: UnitOfWork, account_id: int, restaurant_id: int) -> str:
        role = uow.staff.role_at(account_id, restaurant_id)
        if role is None:
            raise errors.NotFound("This person is not on the staff", account_id=account_id)
        return role

    @staticmethod
    def _keep_an_owner(uow: UnitOfWork, restaurant_id: int) -> None:
        if uow.staff.owner_count(restaurant_id) <= 1:
            raise errors.Conflict(
                "A restaurant keeps at least one owner: make someone else owner first",
                field="role",
            )
