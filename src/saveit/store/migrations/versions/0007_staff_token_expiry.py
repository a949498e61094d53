"""Staff tokens expire, carry the name guests see and when they were last used:
``expires_at``, ``display_name``, ``last_used_at``.

Tokens issued before this revision get an expiry 90 days from the upgrade (the
default lifetime of a new token), so no credential stays valid for ever.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("display_name", sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table(
        "api_tokens",
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    expires = datetime.now(UTC) + timedelta(days=90)
    if op.get_bind().dialect.name == "sqlite":  # SQLite columns hold naive UTC (store.types)
        expires = expires.replace(tzinfo=None)
    op.execute(
        tokens.update()
        .where(tokens.c.expires_at.is_(None), tokens.c.revoked_at.is_(None))
        .values(expires_at=expires)
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("display_name")
        batch_op.drop_column("expires_at")
