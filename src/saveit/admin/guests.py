"""A restaurant's guest book as staff use it: find a guest by name, phone or email,
read everything the restaurant knows of them (contact, language, allergies,
visits and no-shows, bookings, the conversation), and keep staff's own notes and
tags on them.

Notes and tags are staff's words about a guest, so they are checked as any
guest text is: bounded, no control characters, tags short, trimmed and unique
(regardless of case), so a list filters and reads the same for everyone.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from saveit.domain import errors
from saveit.domain.views import ReservationView
from saveit.store.guest_book import GuestRecord
from saveit.store.inbox_overview import InboxEntry
from saveit.store.unit_of_work import Database

__all__ = ["GuestBook", "GuestProfile", "GuestRecord", "parse_tags"]

NOTES_MAX = 2000
TAG_MAX = 40
TAGS_MAX = 20
QUERY_MAX = 100


@dataclass(frozen=True, slots=True)
class GuestProfile:
    guest: GuestRecord
    bookings: list[ReservationView]
    conversation: InboxEntry | None
    zone: ZoneInfo  # the restaurant's: bookings and messages are shown in its time


def _printable(text: str) -> bool:
    return not any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text)


def parse_tags(raw: str) -> list[str]:
    """Tags typed as a comma-separated list: trimmed, inner spaces collapsed,
    duplicates (any case) dropped, order kept."""
    tags: list[str] = []
    seen: set[str] = set()
    for part in raw.split(","):
        tag = " ".join(part.split())
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise errors.ValidationFailed(
                f"A tag holds at most {TAG_MAX} characters ('{tag[:TAG_MAX]}…')", field="tags"
            )
        if not _printable(tag):
            raise errors.ValidationFailed("Tags cannot hold control characters", field="tags")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise errors.ValidationFailed(f"A guest has at most {TAGS_MAX} tags", field="tags")
    return tags


class GuestBook:
    def __init__(self, db: Database, *, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.clock = clock

    def search(self, slug: str, query: str, *, limit: int = 50) -> list[GuestRecord]:
        if len(query) > QUERY_MAX:
            raise errors.ValidationFailed(f"Search for at most {QUERY_MAX} characters", field="q")
        with self.db.tolerant_reading() as r:
            return r.guest_book.search(r.restaurants.id_of(slug), query, limit=limit)

    def profile(self, slug: str, guest_id: int) -> GuestProfile:
        with self.db.reading() as r:
            restaurant_id = r.restaurants.id_of(slug)
            guest = r.guest_book.record(restaurant_id, guest_id)
            if guest is None:
                raise errors.NotFound(f"No guest {guest_id} at '{slug}'")
            bookings = r.guest_book.bookings(restaurant_id, guest_id)
            conversations = r.inbox_overview.overview(restaurant_id, limit=1, guest_id=guest_id)
            zone = ZoneInfo(r.restaurants.profile(slug).timezone)
        return GuestProfile(guest, bookings, conversations[0] if conversations else None, zone)

    def annotate(self, slug: str, guest_id: int, *, notes: str, tags: str) -> GuestRecord:
        """Replace the guest's notes and tags (``tags`` as typed: comma-separated)."""
        notes = notes.strip().replace("\r\n", "\n")
        if len(notes) > NOTES_MAX:
            raise errors.ValidationFailed(
                f"Notes hold at most {NOTES_MAX} characters", field="notes"
            )
        if not _printable(notes):
            raise errors.ValidationFailed("Notes cannot hold control characters", field="notes")
        parsed = parse_tags(tags)
        now = self.clock()
        with self.db.unit_of_work() as uow:
            restaurant_id = uow.restaurants.id_of(slug)
            if not uow.guest_book.annotate(
                restaurant_id, guest_id, notes=notes, tags=parsed, now=now
            ):
                raise errors.NotFound(f"No guest {guest_id} at '{slug}'")
            guest = uow.guest_book.record(restaurant_id, guest_id)
        assert guest is not None
        return guest
