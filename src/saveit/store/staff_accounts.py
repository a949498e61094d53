"""Staff accounts and their memberships: who may sign in to the console, and in
which restaurants with which role.

The password is stored only as the hash the accounts service hands in; this
module never sees a password. Failed sign-ins are counted on the account row, so
a lockout holds across every API process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from saveit.store.repository import Repository, bound
from saveit.store.schema import restaurants, staff_accounts, staff_memberships


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: int
    email: str
    name: str
    password_hash: str
    must_change_password: bool
    language: str | None
    failed_signins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class Membership:
    """One restaurant a person works for."""

    restaurant_id: int
    slug: str
    restaurant_name: str
    role: str


@dataclass(frozen=True, slots=True)
class Member:
    """One person on a restaurant's staff list."""

    account_id: int
    email: str
    name: str
    role: str
    since: datetime


_ACCOUNT = (
    staff_accounts.c.id,
    staff_accounts.c.email,
    staff_accounts.c.name,
    staff_accounts.c.password_hash,
    staff_accounts.c.must_change_password,
    staff_accounts.c.language,
    staff_accounts.c.failed_signins,
    staff_accounts.c.locked_until,
)


def add_account(
    conn: Connection,
    *,
    email: str,
    name: str,
    password_hash: str,
    must_change_password: bool,
    now: datetime,
) -> int:
    result = conn.execute(
        insert(staff_accounts)
        .values(
            email=email,
            name=name,
            password_hash=password_hash,
            must_change_password=must_change_password,
            failed_signins=0,
            created_at=now,
            password_changed_at=now,
        )
        .returning(staff_accounts.c.id)
    )
    return int(result.scalar_one())


def by_email(conn: Connection, email: str) -> AccountRecord | None:
    row = conn.execute(select(*_ACCOUNT).where(staff_accounts.c.email == email)).one_or_none()
    return None if row is None else AccountRecord(*row)


def by_id(conn: Connection, account_id: int) -> AccountRecord | None:
    row = conn.execute(select(*_ACCOUNT).where(staff_accounts.c.id == account_id)).one_or_none()
    return None if row is None else AccountRecord(*row)


def record_failure(
    conn: Connection, account_id: int, *, now: datetime, limit: int, lockout: timedelta
) -> bool:
    """Count a failed sign-in; the ``limit``-th locks the account for ``lockout``
    (and starts the count again). True when this failure locked it."""
    count = conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == account_id)
        .values(failed_signins=staff_accounts.c.failed_signins + 1)
        .returning(staff_accounts.c.failed_signins)
    ).scalar_one()
    if count < limit:
        return False
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == account_id)
        .values(failed_signins=0, locked_until=now + lockout)
    )
    return True


def clear_failures(conn: Connection, account_id: int) -> None:
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == account_id)
        .values(failed_signins=0, locked_until=None)
    )


def set_password(
    conn: Connection, account_id: int, password_hash: str, *, must_change: bool, now: datetime
) -> bool:
    """Replace the password (and lift a lockout); False when there is no such account."""
    result = conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == account_id)
        .values(
            password_hash=password_hash,
            must_change_password=must_change,
            password_changed_at=now,
            failed_signins=0,
            locked_until=None,
        )
    )
    return result.rowcount > 0


def set_language(conn: Connection, account_id: int, language: str | None) -> None:
    conn.execute(
        update(staff_accounts).where(staff_accounts.c.id == account_id).values(language=language)
    )


def delete_account(conn: Connection, account_id: int) -> bool:
    """Delete a person; memberships and sessions go with them (foreign keys cascade)."""
    return (
        conn.execute(delete(staff_accounts).where(staff_accounts.c.id == account_id)).rowcount > 0
    )


def memberships_of(conn: Connection, account_id: int) -> list[Membership]:
    rows = conn.execute(
        select(
            staff_memberships.c.restaurant_id,
            restaurants.c.slug,
            restaurants.c.name,
            staff_memberships.c.role,
        )
        .join(restaurants, restaurants.c.id == staff_memberships.c.restaurant_id)
        .where(staff_memberships.c.account_id == account_id)
        .order_by(restaurants.c.name, restaurants.c.slug)
    )
    return [Membership(*row) for row in rows]


def members(conn: Connection, restaurant_id: int) -> list[Member]:
    rows = conn.execute(
        select(
            staff_accounts.c.id,
            staff_accounts.c.email,
            staff_accounts.c.name,
            staff_memberships.c.role,
            staff_memberships.c.created_at,
        )
        .join(staff_accounts, staff_accounts.c.id == staff_memberships.c.account_id)
        .where(staff_memberships.c.restaurant_id == restaurant_id)
        .order_by(staff_accounts.c.name, staff_accounts.c.email)
    )
    return [Member(*row) for row in rows]


def role_at(conn: Connection, account_id: int, restaurant_id: int) -> str | None:
    found = conn.execute(
        select(staff_memberships.c.role).where(
            staff_memberships.c.account_id == account_id,
            staff_memberships.c.restaurant_id == restaurant_id,
        )
    ).scalar()
    return None if found is None else str(found)


def add_membership(
    conn: Connection, account_id: int, restaurant_id: int, *, role: str, now: datetime
) -> None:
    conn.execute(
        insert(staff_memberships).values(
            account_id=account_id, restaurant_id=restaurant_id, role=role, created_at=now
        )
    )


def set_role(conn: Connection, account_id: int, restaurant_id: int, role: str) -> bool:
    result = conn.execute(
        update(staff_memberships)
        .where(
            staff_memberships.c.account_id == account_id,
            staff_memberships.c.restaurant_id == restaurant_id,
        )
        .values(role=role)
    )
    return result.rowcount > 0


def remove_membership(conn: Connection, account_id: int, restaurant_id: int) -> bool:
    result = conn.execute(
        delete(staff_memberships).where(
            staff_memberships.c.account_id == account_id,
            staff_memberships.c.restaurant_id == restaurant_id,
        )
    )
    return result.rowcount > 0


def owner_count(conn: Connection, restaurant_id: int) -> int:
    """The restaurant's owners, their rows locked until the transaction ends.

    Two owners removing (or demoting) each other at once each counted two owners
    and each went ahead, leaving none. Locked, the second waits for the first,
    and PostgreSQL then counts again what is left (SQLite's writers are serial)."""
    owners = (
        select(staff_memberships.c.account_id)
        .where(
            staff_memberships.c.restaurant_id == restaurant_id,
            staff_memberships.c.role == "owner",
        )
        .with_for_update()
    )
    return len(conn.execute(owners).all())


class StaffAccountRepository(Repository):
    """People who sign in to the console, and the restaurants they work for."""

    add_account = bound(add_account)
    by_email = bound(by_email)
    by_id = bound(by_id)
    record_failure = bound(record_failure)
    clear_failures = bound(clear_failures)
    set_password = bound(set_password)
    set_language = bound(set_language)
    delete_account = bound(delete_account)
    memberships_of = bound(memberships_of)
    members = bound(members)
    role_at = bound(role_at)
    add_membership = bound(add_membership)
    set_role = bound(set_role)
    remove_membership = bound(remove_membership)
    owner_count = bound(owner_count)
