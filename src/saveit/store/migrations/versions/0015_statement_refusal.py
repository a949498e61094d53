"""``saveit_refuse(reason)``: a statement that must be all or nothing undoes itself.

A guest's booking on PostgreSQL is written in one statement outside any
transaction (``saveit.store.booked``): without ``BEGIN`` and ``COMMIT`` it is
two round trips shorter. Its data-modifying ``WITH``s all run, so when one of
them finds it cannot finish (a racing booking holds a cell, the pacing cap
refuses the covers), the statement calls this function, whose error undoes
every row the statement wrote. The SQLSTATE is SaveIt's own (``SV001``,
``saveit.store.errors.REFUSED``), so the caller tells it apart from any real
failure. SQLite has no such function and takes its statements in a transaction.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
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
        "CREATE OR REPLACE FUNCTION saveit_refuse(reason text) RETURNS bigint"
        " LANGUAGE plpgsql VOLATILE AS $$"
        " BEGIN RAISE EXCEPTION USING ERRCODE = 'SV001', MESSAGE = reason; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS saveit_refuse(text)")
