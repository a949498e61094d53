"""Guest satisfaction surveys and the per-day analytics aggregates.

``guest_surveys`` holds one survey per booking (its unique key is the "at most
one per booking" rule), ``survey_opt_outs`` the guests who said "stop",
``survey_settings`` a restaurant's switch. ``booking_refusals`` records the
booking attempts that failed (the successes are the reservations themselves),
``analytics_handoffs`` each time a conversation went to staff. ``analytics_days``
holds the counters the analytics API sums, recomputed per restaurant, day and
family by the ``analytics`` consumer; ``analytics_day_state`` is the row each
recomputation locks first, so two of them for one day never interleave.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)
_TABLES = (
    "survey_settings",
    "survey_opt_outs",
    "guest_surveys",
    "booking_refusals",
    "analytics_handoffs",
    "analytics_day_state",
    "analytics_days",
)


def _restaurant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["restaurant_id"],
        ["restaurants.id"],
        name=op.f(f"fk_{table}_restaurant_id_restaurants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "survey_settings",
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        _restaurant_fk("survey_settings"),
        sa.PrimaryKeyConstraint("restaurant_id", name=op.f("pk_survey_settings")),
    )
    op.create_table(
        "survey_opt_outs",
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("guest_id", _ID, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        _restaurant_fk("survey_opt_outs"),
        sa.ForeignKeyConstraint(
            ["guest_id"],
            ["guests.id"],
            name=op.f("fk_survey_opt_outs_guest_id_guests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("restaurant_id", "guest_id", name=op.f("pk_survey_opt_outs")),
    )
    op.create_table(
        "guest_surveys",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("reservation_id", _ID, nullable=False),
        sa.Column("guest_id", _ID, nullable=True),
        sa.Column("conversation_id", _ID, nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("answered_at", _AT, nullable=True),
        _restaurant_fk("guest_surveys"),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_guest_surveys_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guest_id"],
            ["guests.id"],
            name=op.f("fk_guest_surveys_guest_id_guests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_guest_surveys_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_surveys")),
        sa.UniqueConstraint("reservation_id", name=op.f("uq_guest_surveys_reservation_id")),
    )
    op.create_index(
        op.f("ix_guest_surveys_guest_id_created_at"), "guest_surveys", ["guest_id", "created_at"]
    )
    op.create_index(
        op.f("ix_guest_surveys_restaurant_id_day"), "guest_surveys", ["restaurant_id", "day"]
    )
    op.create_index(
        op.f("ix_guest_surveys_conversation_id_status"),
        "guest_surveys",
        ["conversation_id", "status"],
    )
    op.create_table(
        "booking_refusals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        _restaurant_fk("booking_refusals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_refusals")),
    )
    op.create_index(
        op.f("ix_booking_refusals_restaurant_id_at"), "booking_refusals", ["restaurant_id", "at"]
    )
    op.create_table(
        "analytics_handoffs",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        _restaurant_fk("analytics_handoffs"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_analytics_handoffs")),
    )
    op.create_index(
        op.f("ix_analytics_handoffs_restaurant_id_at"),
        "analytics_handoffs",
        ["restaurant_id", "at"],
    )
    op.create_table(
        "analytics_day_state",
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("computed_at", _AT, nullable=False),
        _restaurant_fk("analytics_day_state"),
        sa.PrimaryKeyConstraint(
            "restaurant_id", "day", "family", name=op.f("pk_analytics_day_state")
        ),
    )
    op.create_table(
        "analytics_days",
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        _restaurant_fk("analytics_days"),
        sa.PrimaryKeyConstraint(
            "restaurant_id",
            "day",
            "family",
            "metric",
            "service",
            "channel",
            "detail",
            name=op.f("pk_analytics_days"),
        ),
    )
    op.create_index(
        op.f("ix_reservations_restaurant_id_created_at"),
        "reservations",
        ["restaurant_id", "created_at"],
    )
    op.create_index(
        op.f("ix_channel_messages_restaurant_id_created_at"),
        "channel_messages",
        ["restaurant_id", "created_at"],
    )
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security, as migration 0010 gives every tenant table.
        condition = "saveit_tenant() IS NULL OR restaurant_id = saveit_tenant()"
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({condition}) WITH CHECK ({condition})"
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_messages_restaurant_id_created_at"), "channel_messages")
    op.drop_index(op.f("ix_reservations_restaurant_id_created_at"), "reservations")
    for table in reversed(_TABLES):
        op.drop_table(table)
