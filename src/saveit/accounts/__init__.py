"""Staff accounts for the console: people who sign in with an email and a
password, the restaurants each works for (one role per restaurant, the roles the
API's bearer tokens have: owner > manager > host), and their browser sessions.

* :mod:`.roles` — the roles and their order.
* :mod:`.passwords` — argon2id hashing and the password rule.
* :mod:`.signin` — sign-in (rate limits, lockout), sessions, sign-out.
* :mod:`.staff` — people and memberships: add, invite, change role, remove,
  reset a password.

API bearer tokens (:mod:`saveit.admin.staff_tokens`) stay for integrations.
"""

from __future__ import annotations

from saveit.accounts.roles import ROLES, at_least
from saveit.accounts.scope import enter_restaurant
from saveit.accounts.signin import OpenedSession, SignIn, SignInRefused, StaffSession
from saveit.accounts.staff import Invited, StaffAccounts
from saveit.store.staff_accounts import Member, Membership

__all__ = [
    "ROLES",
    "Invited",
    "Member",
    "Membership",
    "OpenedSession",
    "SignIn",
    "SignInRefused",
    "StaffAccounts",
    "StaffSession",
    "at_least",
    "enter_restaurant",
]
