"""Processed events: which consumer group already handled which event (idempotent consumers).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_index(
        op.f("ix_processed_events_processed_at"),
        "processed_events",
        ["processed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_events_processed_at"), table_name="processed_events")
    op.drop_table("processed_events")
