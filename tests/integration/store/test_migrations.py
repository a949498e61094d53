"""The migration chain and the schema the code uses never drift apart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.partitions import PARTITIONED
from saveit.store.schema import api_tokens, metadata, restaurants

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


def test_staff_tokens_issued_before_expiry_existed_get_one(tmp_path: Path) -> None:
    """Migration 0007 keeps existing tokens working, for 90 days instead of for ever."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'saveit.db'}")
    upgrade(engine, "0004")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        restaurant_id = conn.execute(
            insert(restaurants)
            .values(
                slug="x",
                name="X",
                timezone="Europe/Madrid",
                rules={},
                created_at=now,
                updated_at=now,
            )
            .returning(restaurants.c.id)
        ).scalar_one()
        conn.execute(
            insert(api_tokens).values(
                token_hash="h", restaurant_id=restaurant_id, role="host", name="old", created_at=now
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        expires, display = conn.execute(
            select(api_tokens.c.expires_at, api_tokens.c.display_name)
        ).one()
    engine.dispose()
    assert display is None
    assert timedelta(days=89) < expires - now <= timedelta(days=90, minutes=1)
