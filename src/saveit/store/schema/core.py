"""The relational schema, shared by the app and by Alembic's migrations.

The double-booking guarantee is ``uq_table_claims_table_cell``: a reservation
claims every ``CLAIM_MINUTES`` cell its stay (buffer included) touches on each
of its tables, and the unique key makes the second of two overlapping claims
fail at insert time, whichever process or backend it comes from. It uses only a
plain unique index and ordinary transactions, so it also holds on engines that
lack exclusion constraints or advisory locks.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from saveit.store.types import JSONDocument, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

restaurants = Table(
    "restaurants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("phone", String(32)),
    Column("email", String(254)),
    Column("address", Text),
    Column("website", String(500)),
    Column("rules", JSONDocument, nullable=False),
    Column("config_version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

weekly_services = Table(
    "weekly_services",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("opens", String(5), nullable=False),
    Column("closes", String(5), nullable=False),
    Column("name", String(64), nullable=False, default=""),
    Index(None, "restaurant_id", "weekday"),
)

special_dates = Table(
    "special_dates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("hours", JSONDocument, nullable=False),
    Column("note", String(200), nullable=False, default=""),
    UniqueConstraint("restaurant_id", "day"),
)

dining_tables = Table(
    "dining_tables",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("area", String(64), nullable=False),
    Column("min_capacity", Integer, nullable=False),
    Column("max_capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    UniqueConstraint("restaurant_id", "code"),
)

combinations = Table(
    "combinations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("min_capacity", Integer, nullable=False),
    Column("max_capacity", Integer, nullable=False),
    UniqueConstraint("restaurant_id", "code"),
)

combination_tables = Table(
    "combination_tables",
    metadata,
    Column(
        "combination_id",
        ForeignKey("combinations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("table_id", ForeignKey("dining_tables.id", ondelete="CASCADE"), primary_key=True),
)

guests = Table(
    "guests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("phone", String(20)),
    Column("email", String(254)),
    Column("language", String(8)),
    Column("notes", Text, nullable=False, default=""),
    Column("allergies", JSONDocument, nullable=False),
    Column("tags", JSONDocument, nullable=False),
    Column("visit_count", Integer, nullable=False, default=0),
    Column("no_show_count", Integer, nullable=False, default=0),
    # Channels the guest lets us notify on (JSON list); NULL: the booking's channel + email.
    Column("notify_channels", JSONDocument),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("restaurant_id", "phone"),
    UniqueConstraint("restaurant_id", "email"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("guest_id", ForeignKey("guests.id", ondelete="SET NULL")),
    Column("party_size", Integer, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("buffer_minutes", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("area_preference", String(64)),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "restaurant_id", "start_at"),
    Index(None, "guest_id"),
    Index(None, "status", "start_at"),  # what the scheduler looks for: due and still open
)

reservation_tables = Table(
    "reservation_tables",
    metadata,
    Column(
        "reservation_id",
        ForeignKey("reservations.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("table_id", ForeignKey("dining_tables.id", ondelete="RESTRICT"), primary_key=True),
)

table_claims = Table(
    "table_claims",
    metadata,
    Column("table_id", ForeignKey("dining_tables.id", ondelete="RESTRICT"), nullable=False),
    Column("cell", BigInteger, nullable=False),
    Column(
        "reservation_id",
        ForeignKey("reservations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Index("uq_table_claims_table_cell", "table_id", "cell", unique=True),
    Index(None, "reservation_id"),
)

slot_covers = Table(
    "slot_covers",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("slot_start", BigInteger, primary_key=True),  # epoch seconds of the start
    Column("covers", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("reservation_id", ForeignKey("reservations.id", ondelete="CASCADE")),
    Column("created_at", UTCDateTime, nullable=False),
)

# On PostgreSQL reservation_log, outbox, processed_events and channel_messages are
# partitioned by month (migration 0011, saveit.store.partitions): there their keys
# include the timestamp and the dedup keys are kept by advisory locks instead.
reservation_log = Table(
    "reservation_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reservation_id", ForeignKey("reservations.id", ondelete="RESTRICT"), nullable=False),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="RESTRICT"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("before", JSONDocument),
    Column("after", JSONDocument),
    Index(None, "reservation_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime),
    Index(None, "published_at", "id"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("processed_at", UTCDateTime, nullable=False, index=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # --- security: tokens and credentials ---
    Column("expires_at", UTCDateTime),  # NULL only on rows written before expiry existed
    Column("display_name", String(48)),  # what guests see of this token's holder
    Column("last_used_at", UTCDateTime),  # to the nearest few minutes (store.tokens)
)
