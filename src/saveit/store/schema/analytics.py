"""The analytics' tables: satisfaction surveys, refused bookings, handoffs, and
the per-day counters (:mod:`saveit.store.analytics`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from saveit.store.schema.core import Id, metadata, reservations
from saveit.store.schema.messaging import channel_messages
from saveit.store.types import UTCDateTime

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
