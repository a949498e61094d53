"""The waitlist: entries of guests waiting for a full time, and their audit trail.

A seat held for an offer is a ``reservations`` row with status ``held`` (no
schema change: the status column is free text), so it claims its tables
through the same unique index as any booking.

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("guest_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("earliest", _AT, nullable=False),
        sa.Column("latest", _AT, nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_id", _ID, nullable=True),
        sa.Column("hold_expires_at", _AT, nullable=True),
        sa.Column("reservation_id", _ID, nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("joined_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["guest_id"],
            ["guests.id"],
            name=op.f("fk_waitlist_entries_guest_id_guests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["reservations.id"],
            name=op.f("fk_waitlist_entries_hold_id_reservations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_waitlist_entries_reservation_id_reservations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_waitlist_entries_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
        sa.UniqueConstraint("code", name=op.f("uq_waitlist_entries_code")),
    )
    op.create_index(
        op.f("ix_waitlist_entries_restaurant_id_day_status"),
        "waitlist_entries",
        ["restaurant_id", "day", "status"],
    )
    op.create_index(
        op.f("ix_waitlist_entries_status_hold_expires_at"),
        "waitlist_entries",
        ["status", "hold_expires_at"],
    )
    op.create_index(op.f("ix_waitlist_entries_guest_id"), "waitlist_entries", ["guest_id"])
    op.create_table(
        "waitlist_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["waitlist_entries.id"],
            name=op.f("fk_waitlist_log_entry_id_waitlist_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_waitlist_log_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_log")),
    )
    op.create_index(op.f("ix_waitlist_log_entry_id"), "waitlist_log", ["entry_id"])
    op.create_index(
        op.f("ix_waitlist_log_restaurant_id_at"), "waitlist_log", ["restaurant_id", "at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security, as migration 0010 gives every tenant table.
        condition = "saveit_tenant() IS NULL OR restaurant_id = saveit_tenant()"
        for table in ("waitlist_entries", "waitlist_log"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({condition}) WITH CHECK ({condition})"
            )


def downgrade() -> None:
    op.drop_table("waitlist_log")
    op.drop_table("waitlist_entries")
