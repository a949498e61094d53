"""Apply the Alembic chain programmatically (``saveit db upgrade`` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from saveit.store.secret_box import SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head", *, box: SecretBox | None = None) -> None:
    """Apply the chain; given the ``box``, also seal any provider secret still stored
    in plain text (rows written before secrets were sealed), in the same transaction."""
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        if box is not None and revision == "head":
            from saveit.store.channel_accounts import seal_plaintext

            seal_plaintext(connection, box)
