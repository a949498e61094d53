"""Staff accounts for the console: people with a password, the restaurants they
work for (one role each), and their browser sessions.

``staff_memberships`` is a tenant table and gets the row-level-security policy
every tenant table has; ``staff_accounts`` and ``staff_sessions`` belong to a
person, not to one restaurant, and are read before any restaurant is known.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _AT, nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("password_changed_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_accounts_email")),
    )
    op.create_table(
        "staff_memberships",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_memberships_account_id_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_staff_memberships_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "restaurant_id", name=op.f("pk_staff_memberships")),
    )
    op.create_index(
        op.f("ix_staff_memberships_restaurant_id"), "staff_memberships", ["restaurant_id"]
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("last_seen_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_sessions_account_id_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_index(op.f("ix_staff_sessions_account_id"), "staff_sessions", ["account_id"])
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security, as migration 0010 gives every tenant table.
        condition = "saveit_tenant() IS NULL OR restaurant_id = saveit_tenant()"
        op.execute("ALTER TABLE staff_memberships ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE staff_memberships FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON staff_memberships "
            f"USING ({condition}) WITH CHECK ({condition})"
        )


def downgrade() -> None:
    op.drop_table("staff_sessions")
    op.drop_table("staff_memberships")
    op.drop_table("staff_accounts")
