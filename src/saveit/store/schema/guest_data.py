"""Tables of the guest's data rights and of the notify list: erasure's own audit, and
seats held for a waitlist offer with the entries and their history."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from saveit.store.schema.core import Id, metadata
from saveit.store.types import JSONDocument, UTCDateTime

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
