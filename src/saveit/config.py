"""Settings, read once from ``SAVEIT_*`` environment variables by the composition root.

Nothing here is built at import time: call :func:`load_settings` (or build a
``Settings`` directly in tests) and hand the result down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside the embedded default


class Settings(BaseSettings):
    """Every knob SaveIt reads; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="SAVEIT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Folder for the embedded SQLite file.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy or plain postgresql:// URL; unset means SQLite in data_dir.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:port/db for the event bus; unset means in-process.",
    )
    redis_timeout_s: float = Field(default=1.0, gt=0, le=30)
    events_stream: str = Field(default="saveit:events", min_length=1)
    events_maxlen: int = Field(default=100_000, ge=1000)
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    relay_in_process: bool | None = Field(
        default=None,
        description="Run the outbox relay inside the API process; unset means only "
        "when there is no Redis (the embedded default). Production runs `saveit worker`.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(_DEV_SECRET),
        description="Signs manage tokens; must be set in production.",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bootstrap admin bearer token (all restaurants)."
    )
    default_phone_region: str = Field(
        default="ES", description="Region for phone numbers written without a country code."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    env: str = Field(default="development", description="development | production")

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return value or None

    @property
    def runs_relay_in_process(self) -> bool:
        return self.redis_url is None if self.relay_in_process is None else self.relay_in_process

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == _DEV_SECRET:
            raise ValueError("SAVEIT_SECRET_KEY must be set when SAVEIT_ENV=production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The URL SQLAlchemy gets: plain ``postgresql://`` is mapped onto psycopg 3."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'saveit.db').resolve()}"
        return normalise_database_url(self.database_url)


def normalise_database_url(url: str) -> str:
    """Accept the URL forms PostgreSQL tools write (``postgres://``, ``postgresql://``)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings() -> Settings:
    return Settings()
