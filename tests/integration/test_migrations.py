"""The migration chain and the schema the code uses never drift apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.schema import api_tokens, metadata, restaurants


def test_migrations_build_exactly_the_schema_the_code_declares(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
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
