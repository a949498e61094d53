"""``saveit_refuse(reason)``: how one statement undoes everything it wrote.

A guest's booking on PostgreSQL is written by one statement that is its own
transaction (``saveit.store.booked_at_once``): no ``BEGIN`` or ``COMMIT`` round
trips. When that statement finds it cannot write the booking whole (a racing
booking holds a cell, the slot's pacing cap is reached, the guest's no-shows call
for approval), it calls this function; its error undoes every row the statement
wrote, and the caller takes the transactional path, which decides what to answer.
The error has a SQLSTATE of its own (``SV001``), so it cannot be mistaken for any
other failure. SQLite has no such statement and gets nothing.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION saveit_refuse(reason text) RETURNS integer"
        " LANGUAGE plpgsql VOLATILE AS $$"
        " BEGIN RAISE EXCEPTION USING ERRCODE = 'SV001', MESSAGE = reason; END"
        " $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS saveit_refuse(text)")
