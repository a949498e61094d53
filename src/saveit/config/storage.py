"""Where the data lives: the database, its pool, the read replica, and how long
the append-only tables keep their monthly partitions."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class StorageSettings(BaseModel):
    """The database knobs of :class:`saveit.config.Settings` (see there)."""

    data_dir: Path = Field(default=Path("data"), description="Folder for the embedded SQLite file.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy or plain postgresql:// URL; unset means SQLite in data_dir.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds to wait for a pooled connection before answering 503.",
    )
    db_connect_timeout_s: int = Field(
        default=2,
        ge=2,
        le=60,
        description="PostgreSQL connect timeout (libpq's minimum is 2 s): a database that "
        "is away costs a request at most this, then a 503.",
    )
    config_recheck_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a process trusts its copy of a restaurant's configuration "
        "before asking the database for its config_version again (0: on every request). "
        "Edits made through this process apply at once; through another, within this time.",
    )
    config_preload: int = Field(
        default=1000,
        ge=0,
        le=100_000,
        description="How many restaurants' configurations an API process loads as it "
        "starts, in a few queries (0: none): otherwise the first guest of each restaurant "
        "after a deploy waits for its own seven.",
    )
    default_phone_region: str = Field(
        default="ES", description="Region for phone numbers written without a country code."
    )
    partition_months_ahead: int = Field(
        default=3,
        ge=1,
        le=24,
        description="PostgreSQL: monthly partitions of the append-only tables are kept "
        "created this many months ahead by the scheduler.",
    )
    partition_check_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the scheduler's partition job runs (it is idempotent).",
    )
    retention_audit_months: int = Field(
        default=24,
        ge=1,
        description="Months of the audit log (reservation_log) kept before their partition "
        "is dropped.",
    )
    retention_outbox_months: int = Field(
        default=3,
        ge=1,
        description="Months of outbox events kept; a month with an unpublished event stays.",
    )
    retention_processed_events_months: int = Field(
        default=3,
        ge=1,
        description="Months of consumer idempotency records kept; must outlast the event "
        "stream's replay horizon.",
    )
    retention_messages_months: int = Field(
        default=12,
        ge=1,
        description="Months of channel messages kept; a month with an unanswered or unsent "
        "message stays.",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="PostgreSQL streaming replica for reads that tolerate lag (availability, "
        "live-feed snapshots, lists); unset means every read goes to the primary.",
    )
    replica_max_lag_s: float = Field(
        default=5.0,
        gt=0,
        description="Reads go back to the primary while the replica's replay lags more "
        "than this (or it is unreachable).",
    )
    replica_check_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often, at most, the replica's lag is measured (not per request).",
    )

    @field_validator("database_url", "database_replica_url", mode="before")
    @classmethod
    def _blank_url_is_none(cls, value: object) -> object:
        return value or None

    @property
    def resolved_database_url(self) -> str:
        """The URL SQLAlchemy gets: plain ``postgresql://`` is mapped onto psycopg 3."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'saveit.db').resolve()}"
        return normalise_database_url(self.database_url)

    @property
    def resolved_replica_url(self) -> str | None:
        if self.database_replica_url is None:
            return None
        return normalise_database_url(self.database_replica_url)

    @property
    def retention_months(self) -> dict[str, int]:
        """Retention per partitioned table, for :class:`saveit.store.partitions.PartitionKeeper`."""
        return {
            "reservation_log": self.retention_audit_months,
            "outbox": self.retention_outbox_months,
            "processed_events": self.retention_processed_events_months,
            "channel_messages": self.retention_messages_months,
        }


def normalise_database_url(url: str) -> str:
    """Accept the URL forms PostgreSQL tools write (``postgres://``, ``postgresql://``)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
