"""Privacy: the erasure audit, the audit log's one sanctioned rewrite, and the retention mark
on messages.

``reservation_log`` stays append-only, but its guard now lets one kind of UPDATE
through: inside the erasure of the guest whose reservation the row is about
(PostgreSQL: the transaction-local setting ``saveit.erasure`` holds that guest's
id; SQLite: a row with it in ``erasure_in_progress``, which the same transaction
inserts and deletes), touching only the ``before``/``after`` snapshots. Any
other UPDATE, and every DELETE, is still refused.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_PG_GUARD = """
CREATE OR REPLACE FUNCTION saveit_reservation_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND current_setting('saveit.erasure', true)
         = (SELECT guest_id::text FROM reservations WHERE id = OLD.reservation_id)
     AND NEW.id = OLD.id AND NEW.reservation_id = OLD.reservation_id
     AND NEW.restaurant_id = OLD.restaurant_id AND NEW.at = OLD.at
     AND NEW.actor = OLD.actor AND NEW.channel = OLD.channel AND NEW.action = OLD.action
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'reservation_log is append-only';
END $$
"""

_PG_PLAIN = (
    "CREATE OR REPLACE FUNCTION saveit_reservation_log_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'reservation_log is append-only'; END $$"
)

_SQLITE_GUARD = (
    "CREATE TRIGGER reservation_log_no_update BEFORE UPDATE ON reservation_log "
    "WHEN NOT EXISTS (SELECT 1 FROM erasure_in_progress e JOIN reservations r "
    "ON r.guest_id = e.guest_id WHERE r.id = OLD.reservation_id) "
    "OR NEW.id IS NOT OLD.id OR NEW.reservation_id IS NOT OLD.reservation_id "
    'OR NEW.restaurant_id IS NOT OLD.restaurant_id OR NEW."at" IS NOT OLD."at" '
    "OR NEW.actor IS NOT OLD.actor OR NEW.channel IS NOT OLD.channel "
    "OR NEW.action IS NOT OLD.action "
    "BEGIN SELECT RAISE(ABORT, 'reservation_log is append-only'); END"
)

_SQLITE_PLAIN = (
    "CREATE TRIGGER reservation_log_no_update BEFORE UPDATE ON reservation_log BEGIN "
    "SELECT RAISE(ABORT, 'reservation_log is append-only'); END"
)


def upgrade() -> None:
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_channel_messages_redacted_at_created_at"),
            ["redacted_at", "created_at"],
            unique=False,
        )
    op.create_table(
        "guest_erasures",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("restaurant_id", _ID, nullable=False),
        sa.Column("guest_id", _ID, nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("counts", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_erasures")),
    )
    op.create_index(
        op.f("ix_guest_erasures_restaurant_id_guest_id"),
        "guest_erasures",
        ["restaurant_id", "guest_id"],
        unique=False,
    )
    op.create_table(
        "erasure_in_progress",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("guest_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_in_progress")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        op.execute("DROP TRIGGER reservation_log_no_update")
        op.execute(_SQLITE_GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_PLAIN)
    else:
        op.execute("DROP TRIGGER reservation_log_no_update")
        op.execute(_SQLITE_PLAIN)
    op.drop_table("erasure_in_progress")
    op.drop_index(op.f("ix_guest_erasures_restaurant_id_guest_id"), table_name="guest_erasures")
    op.drop_table("guest_erasures")
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_messages_redacted_at_created_at"))
        batch_op.drop_column("redacted_at")
