"""The guest messaging channels' tables: accounts, identities, conversations, messages."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from saveit.store.schema.core import Id, metadata
from saveit.store.types import JSONDocument, UTCDateTime

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
