"""The migration chain and the schema the code uses never drift apart."""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from saveit.store.database import create_db_engine
from saveit.store.partitions import PARTITIONED
from saveit.store.schema import metadata

_PARTITION = re.compile(rf"^({'|'.join(PARTITIONED)})_(p\d{{6}}|default)$")


def _declared_here(obj: Any, name: str | None, type_: str, reflected: bool, _: Any) -> bool:
    """On PostgreSQL the append-only tables are partitioned (migration 0011): their
    partitions, keys widened by the partition key and the foreign key into
    ``channel_messages`` differ from the plain tables SQLite keeps, on purpose;
    ``tests/integration/test_partitions.py`` checks that shape."""
    if type_ == "table":
        return not (reflected and name is not None and _PARTITION.match(name))
    table = getattr(getattr(obj, "table", None), "name", None) or getattr(
        getattr(obj, "parent", None), "name", None
    )
    if type_ in {"index", "unique_constraint", "foreign_key_constraint"}:
        return table not in PARTITIONED and not (
            type_ == "foreign_key_constraint" and table == "notifications"
        )
    return True


def test_migrations_build_exactly_the_schema_the_code_declares(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        opts: dict[str, Any] = {}
        if conn.dialect.name == "postgresql":
            opts["include_object"] = _declared_here
        differences = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    engine.dispose()
    assert differences == []
