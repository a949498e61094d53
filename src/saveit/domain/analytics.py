"""What the analytics counters are computed from: one restaurant-day's facts, as
plain values the store reads and :mod:`saveit.analytics.daily` counts.

They live here, below the store, so the store can hand them up without
importing the feature that counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

VISITS = "visits"  # bookings by the service day of their start
ATTEMPTS = "attempts"  # booking attempts by the local day they were made
MESSAGES = "messages"  # guests' messages by the local day they arrived
SURVEYS = "surveys"  # satisfaction surveys by the service day of the visit
FAMILIES: tuple[str, ...] = (VISITS, ATTEMPTS, MESSAGES, SURVEYS)


@dataclass(frozen=True, slots=True)
class VisitFact:
    """A booking (not a waitlist hold) starting in the day's window."""

    id: int
    guest_id: int | None
    party_size: int
    start: datetime
    end: datetime
    status: str
    source: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    table_count: int
    returning: bool  # the guest had a seated visit that started before this one


@dataclass(frozen=True, slots=True)
class AttemptFact:
    channel: str
    refused: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class RefusalFact:
    """A booking attempt the engine refused, on the restaurant's day it was made."""

    restaurant_id: int
    day: date
    at: datetime
    channel: str
    code: str
    party_size: int


@dataclass(frozen=True, slots=True)
class InboundFact:
    """A guest's message, with what the day's counters need to know around it."""

    channel: str
    created_at: datetime
    previous_at: datetime | None  # the guest's previous message in the conversation
    note: str | None  # why the bot did not answer it as usual (NOT_UNDERSTOOD, HANDED_OFF …)
    replied_at: datetime | None  # when the bot's first reply after it went out
    booked_within_day: bool  # the guest booked within 24 hours after it


@dataclass(frozen=True, slots=True)
class HandoffFact:
    channel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SurveyFact:
    day: date
    service: str
    channel: str
    status: str
    rating: int | None


@dataclass(frozen=True, slots=True)
class Counter:
    """One row of ``analytics_days``."""

    day: date
    family: str
    metric: str
    service: str
    channel: str
    detail: str
    value: int
