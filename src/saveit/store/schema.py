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

# --- Guest messaging channels ----------------------------------------------------------

channel_accounts = Table(
    "channel_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    # What inbound messages are routed by: phone number id, IG account id, number, address.
    Column("address", String(254), nullable=False),
    Column("settings", JSONDocument, nullable=False),  # template, service SID: no secrets
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # --- security: channel accounts proven before they route; secrets sealed at rest ---
    Column("secrets", Text),  # access tokens, Fernet-sealed (saveit.store.secret_box)
    # The address once proven (NULL while the claim is pending): inbound mail and webhooks
    # route by it, and its unique key lets only one restaurant's proof win an address,
    # while any number of pending claims wait beside it without blocking anyone.
    Column("routed_address", String(254)),
    Column("proven_by", String(16)),  # graph | admin | code | migrated
    Column("proven_at", UTCDateTime),
    Column("proof_hash", String(64)),  # HMAC of the code sent to the address, while pending
    Column("proof_expires_at", UTCDateTime),
    Column("proof_attempts", Integer, nullable=False, default=0),
    UniqueConstraint("channel", "routed_address"),
    UniqueConstraint("restaurant_id", "channel"),
)

channel_identities = Table(
    "channel_identities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(254), nullable=False),
    Column("guest_id", ForeignKey("guests.id", ondelete="CASCADE"), nullable=False),
    Column("display_name", String(200), nullable=False, default=""),
    Column("last_inbound_at", UTCDateTime),  # opens the 24-hour reply window
    Column("created_at", UTCDateTime, nullable=False),
    # Last proof that the sender controls external_id (email: reply | dkim | code).
    Column("verified_at", UTCDateTime),
    Column("verified_by", String(16)),
    UniqueConstraint("restaurant_id", "channel", "external_id"),
    Index(None, "guest_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("guest_id", ForeignKey("guests.id", ondelete="CASCADE"), nullable=False),
    Column("language", String(8)),
    Column("state", JSONDocument, nullable=False),  # the dialogue's, opaque here
    Column("offered", JSONDocument, nullable=False),  # last choices offered: "2" picks one
    Column("handoff", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_message_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("restaurant_id", "guest_id"),
    Index(None, "restaurant_id", "last_message_at"),
)

channel_messages = Table(
    "channel_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("direction", String(3), nullable=False),  # in | out
    Column("channel", String(16), nullable=False),
    # The deduplication key: a webhook retried for days still inserts one row.
    Column("provider_message_id", String(255)),
    Column("address", String(254), nullable=False),  # the guest's id: sender in, recipient out
    Column("identity_id", ForeignKey("channel_identities.id", ondelete="SET NULL")),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE")),
    Column("status", String(16), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("body", JSONDocument, nullable=False),  # choice, name, thread ids | the outbound message
    Column("raw", Text, nullable=False, default=""),
    Column("author", String(64), nullable=False, default=""),  # guest | bot | staff:<name>
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_until", UTCDateTime),  # a worker's lease; a dead worker's lapses
    # Set (committed) right before a provider call, cleared when its outcome is
    # known: still set on a lapsed lease means the sender died mid-send.
    Column("send_started_at", UTCDateTime),
    Column("error_code", String(64)),
    Column("error_detail", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),  # inbound answered | outbound sent or given up
    # When text, body and raw were blanked (retention or erasure); NULL: still held.
    Column("redacted_at", UTCDateTime),
    UniqueConstraint("channel", "provider_message_id"),
    Index(None, "processed_at", "direction", "next_attempt_at"),
    Index(None, "conversation_id", "id"),
    Index(None, "redacted_at", "created_at"),  # what the retention purge looks for
)

early_statuses = Table(
    # A provider's status for a message id we have not recorded yet: the webhook
    # can beat our own commit of the send. Applied when the id is recorded.
    "early_statuses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("provider_message_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(64)),
    Column("error_detail", Text),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel", "provider_message_id", "status"),
    Index(None, "received_at"),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("identity_id", ForeignKey("channel_identities.id", ondelete="CASCADE"), nullable=False),
    Column("guest_id", ForeignKey("guests.id", ondelete="CASCADE")),  # None: nobody to link
    Column("contact", String(254), nullable=False),  # the phone or email claimed
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("consumed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "identity_id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("reservation_id", ForeignKey("reservations.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(64), nullable=False),  # confirmation | reminder:120:<start> | ...
    Column("channel", String(16), nullable=False),
    Column("message_id", ForeignKey("channel_messages.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    # The sent-record: one notification of a kind per reservation and channel, ever.
    UniqueConstraint("reservation_id", "kind", "channel"),
)

# --- Privacy: erasure's own audit, and the one sanctioned rewrite of the audit log ------

guest_erasures = Table(
    # Who erased which guest and when, with how many rows each table had touched:
    # never the personal data itself. No foreign key, so it outlives anything.
    "guest_erasures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", Id, nullable=False),
    Column("guest_id", Id, nullable=False),
    Column("erased_at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("counts", JSONDocument, nullable=False),
    Index(None, "restaurant_id", "guest_id"),
)

erasure_in_progress = Table(
    # SQLite's guard on reservation_log lets an UPDATE through only while the
    # erasing transaction holds a row here; it deletes it before committing, so no
    # other connection ever sees one. (PostgreSQL uses ``SET LOCAL saveit.erasure``.)
    "erasure_in_progress",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guest_id", Id, nullable=False),
)

booking_holds = Table(
    # A public booking held as ``pending`` until its guest types the code we sent
    # (the restaurant's rule ``verify_public_bookings``); the scheduler cancels
    # holds that expire unverified. Only the code's HMAC is kept.
    "booking_holds",
    metadata,
    Column(
        "reservation_id",
        ForeignKey("reservations.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),  # sms | whatsapp | email
    Column("contact", String(254), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("verified_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# --- waitlist: guests waiting for a full time to free up (saveit.waitlist) ---

waitlist_entries = Table(
    "waitlist_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),  # public: the manage token's
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("guest_id", ForeignKey("guests.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),  # the service day
    Column("earliest", UTCDateTime, nullable=False),  # the starts the guest would take
    Column("latest", UTCDateTime, nullable=False),
    Column("party_size", Integer, nullable=False),
    Column("area", String(64)),
    Column("channel", String(32), nullable=False),  # where they joined: where offers go
    Column("status", String(16), nullable=False),  # waiting | offered | booked | closed | left
    # The seat held for them while an offer is open (a ``held`` reservation row).
    Column("hold_id", ForeignKey("reservations.id", ondelete="SET NULL")),
    Column("hold_expires_at", UTCDateTime),
    Column("reservation_id", ForeignKey("reservations.id", ondelete="SET NULL")),
    Column("offers", Integer, nullable=False, default=0),
    Column("notes", Text, nullable=False, default=""),
    Column("created_by", String(64), nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "restaurant_id", "day", "status"),
    Index(None, "status", "hold_expires_at"),  # the expiry sweep
    Index(None, "guest_id"),
)

waitlist_log = Table(
    # Every step of an entry (joined, offered, accepted, declined, expired, closed,
    # left, changed): the audit trail and what the waitlist's analytics count.
    "waitlist_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entry_id", ForeignKey("waitlist_entries.id", ondelete="CASCADE"), nullable=False),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", JSONDocument, nullable=False),
    Index(None, "entry_id"),
    Index(None, "restaurant_id", "at"),
)

# --- analytics and guest satisfaction (saveit.analytics) ---

survey_settings = Table(
    # A restaurant's survey switch; no row: surveys on, sent right after the visit.
    "survey_settings",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("delay_minutes", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

survey_opt_outs = Table(
    # Guests who asked for no more surveys ("stop", "no más encuestas"), or staff did.
    "survey_opt_outs",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("guest_id", ForeignKey("guests.id", ondelete="CASCADE"), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("via", String(32), nullable=False),  # the channel, or "staff"
)

guest_surveys = Table(
    # One per booking, ever (the unique key): sent, answered, or skipped with a reason.
    "guest_surveys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column(
        "reservation_id",
        ForeignKey("reservations.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("guest_id", ForeignKey("guests.id", ondelete="SET NULL")),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("day", Date, nullable=False),  # the visit's service day: what the figures count by
    Column("service", String(64), nullable=False),
    Column("channel", String(16), nullable=False),  # where it was asked ("" when skipped)
    Column("language", String(8), nullable=False),
    Column("status", String(32), nullable=False),  # sent | answered | skipped:<reason>
    Column("rating", Integer),
    Column("comment", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Index(None, "guest_id", "created_at"),  # the weekly cap
    Index(None, "restaurant_id", "day"),
    Index(None, "conversation_id", "status"),  # the open survey a chat answers
)

booking_refusals = Table(
    # Booking attempts the engine refused (SLOT_TAKEN, a rule): the success rate's misses.
    "booking_refusals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("party_size", Integer, nullable=False),
    Index(None, "restaurant_id", "at"),
)

analytics_handoffs = Table(
    # Each hand-over of a conversation to staff, from its event (the id keeps it once).
    "analytics_handoffs",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), nullable=False),
    Column("conversation_id", Id, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(64), nullable=False),
    Index(None, "restaurant_id", "at"),
)

analytics_day_state = Table(
    # Locked first by every recomputation of a (restaurant, day, family): they queue.
    "analytics_day_state",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("family", String(16), primary_key=True),
    Column("computed_at", UTCDateTime, nullable=False),
)

analytics_days = Table(
    # The counters the figures are summed from: one row per restaurant, service day,
    # family, metric and dimensions (service, channel, detail: a bucket, a source ...).
    "analytics_days",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("family", String(16), primary_key=True),
    Column("metric", String(32), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("detail", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

Index(
    "ix_reservations_restaurant_id_created_at",
    reservations.c.restaurant_id,
    reservations.c.created_at,
)
Index(
    "ix_channel_messages_restaurant_id_created_at",
    channel_messages.c.restaurant_id,
    channel_messages.c.created_at,
)
