"""Notifications: the sent-record per reservation, kind and channel; guests' channel choice;
the in-flight mark on outbound sends; statuses that arrive before their send is recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_started_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reservations_status_start_at"), ["status", "start_at"], unique=False
        )
    with op.batch_alter_table("guests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "notify_channels",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
    op.create_table(
        "early_statuses",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_statuses")),
        sa.UniqueConstraint(
            "channel",
            "provider_message_id",
            "status",
            name=op.f("uq_early_statuses_channel_provider_message_id_status"),
        ),
    )
    op.create_index(
        op.f("ix_early_statuses_received_at"), "early_statuses", ["received_at"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("reservation_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["channel_messages.id"],
            name=op.f("fk_notifications_message_id_channel_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_notifications_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_notifications_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "reservation_id",
            "kind",
            "channel",
            name=op.f("uq_notifications_reservation_id_kind_channel"),
        ),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_index(op.f("ix_early_statuses_received_at"), table_name="early_statuses")
    op.drop_table("early_statuses")
    with op.batch_alter_table("guests", schema=None) as batch_op:
        batch_op.drop_column("notify_channels")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservations_status_start_at"))
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.drop_column("send_started_at")
