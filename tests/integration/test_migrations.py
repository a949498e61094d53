"""The migration chain and the schema the code uses never drift apart."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from saveit.store.database import create_db_engine
from saveit.store.schema import metadata


def test_migrations_build_exactly_the_schema_the_code_declares(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []
