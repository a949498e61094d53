"""Staff accounts for the console: people (``staff_accounts``), the restaurants
each works for and in which role (``staff_memberships``, a tenant table), and
their signed-in browser sessions (``staff_sessions``).

A person belongs to no single restaurant, so accounts and sessions carry no
``restaurant_id`` and are read unscoped (sign-in happens before any restaurant
is known); what a person may see is decided by the memberships, which
row-level security scopes like every other tenant table.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table

from saveit.store.schema.core import Id, metadata
from saveit.store.types import UTCDateTime

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # normalised, lower case
    Column("name", String(100), nullable=False),
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("must_change_password", Boolean, nullable=False),
    Column("language", String(2)),  # es | en; NULL: the browser's language
    Column("failed_signins", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
)

staff_memberships = Table(
    "staff_memberships",
    metadata,
    Column(
        "account_id",
        ForeignKey("staff_accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "restaurant_id",
        ForeignKey("restaurants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "restaurant_id"),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the cookie
    Column("account_id", ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Index(None, "account_id"),
)
