"""The staff roles, shared with the API's bearer tokens: each role may do
everything the roles before it may."""

from __future__ import annotations

from saveit.admin.staff_tokens import ROLES
from saveit.domain import errors

RANK = {role: i for i, role in enumerate(ROLES)}

__all__ = ["RANK", "ROLES", "at_least", "checked_role"]


def at_least(role: str, minimum: str) -> bool:
    return RANK[role] >= RANK[minimum]


def checked_role(role: str) -> str:
    if role not in RANK:
        raise errors.ValidationFailed(
            f"role must be one of {', '.join(ROLES)}", field="role", allowed=list(ROLES)
        )
    return role
