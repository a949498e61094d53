"""Row-level security on every tenant table (PostgreSQL only; see saveit.store.tenancy).

Every table with a ``restaurant_id`` column (found in the catalogue, so tables
added by earlier migrations are all covered), the restaurants themselves, and
the link tables that belong to a restaurant through their parent get a policy
that admits a row when ``saveit.restaurant_id`` is unset or names its
restaurant. ``FORCE`` makes the policies bind the tables' owner too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_POLICY = "tenant_isolation"
_TENANT = "saveit_tenant()"
_UNSCOPED = f"{_TENANT} IS NULL"
_CHILDREN = (
    ("combination_tables", "combination_id", "combinations"),
    ("reservation_tables", "reservation_id", "reservations"),
    ("table_claims", "table_id", "dining_tables"),
)


def _tenant_tables() -> list[str]:
    rows = op.get_bind().execute(
        text(
            "SELECT c.table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = current_schema() AND c.column_name = 'restaurant_id' "
            "AND t.table_type = 'BASE TABLE' ORDER BY c.table_name"
        )
    )
    return [str(row[0]) for row in rows]


def _protect(table: str, condition: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS {_POLICY} ON {table}")
    op.execute(f"CREATE POLICY {_POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # NULLIF: a session that set the value back to '' is unscoped, like one that never set it.
    op.execute(
        "CREATE OR REPLACE FUNCTION saveit_tenant() RETURNS bigint "
        "LANGUAGE sql STABLE PARALLEL SAFE AS "
        "$$ SELECT NULLIF(current_setting('saveit.restaurant_id', true), '')::bigint $$"
    )
    _protect("restaurants", f"{_UNSCOPED} OR id = {_TENANT}")
    for table in _tenant_tables():
        _protect(table, f"{_UNSCOPED} OR restaurant_id = {_TENANT}")
    for table, column, parent in _CHILDREN:
        _protect(
            table,
            f"{_UNSCOPED} OR EXISTS (SELECT 1 FROM {parent} p "  # noqa: S608 - our own names
            f"WHERE p.id = {table}.{column} AND p.restaurant_id = {_TENANT})",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    tables = ["restaurants", *_tenant_tables(), *(child for child, _, _ in _CHILDREN)]
    for table in tables:
        op.execute(f"DROP POLICY IF EXISTS {_POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS saveit_tenant()")
