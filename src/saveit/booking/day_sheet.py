"""A service day as the host stand sees it: every reservation of the day, the
allergies of their guests, and the live feed's position the read is as new as.

The position is read first, on the primary: a screen that renders the sheet and
then follows the live feed from that position misses nothing committed after
the read, and sees again (harmlessly) what the read already held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from saveit.booking.service import BookingService
from saveit.domain.model import Restaurant
from saveit.domain.views import ReservationView
from saveit.store.unit_of_work import Database


@dataclass(frozen=True, slots=True)
class DaySheet:
    restaurant: Restaurant
    day: date
    reservations: tuple[ReservationView, ...]
    position: int  # the outbox head before the read: where a live feed resumes
    allergies: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # by guest id

    def allergies_of(self, view: ReservationView) -> tuple[str, ...]:
        return self.allergies.get(view.guest.id, ()) if view.guest else ()


class DaySheets:
    def __init__(self, database: Database, booking: BookingService) -> None:
        self.db = database
        self.booking = booking

    def position(self) -> int:
        """The live feed's position now (the highest committed outbox id)."""
        with self.db.reading() as r:
            return r.outbox.bounds()[1]

    def sheet(self, slug: str, day: date) -> DaySheet:
        restaurant = self.booking.restaurant(slug)
        position = self.position()
        replica = self.booking.replica
        caught_up_to = replica.primary_position() if replica is not None else None
        views = self.booking.list_for_day(slug, day, caught_up_to=caught_up_to)
        guest_ids = [v.guest.id for v in views if v.guest is not None]
        with self.db.reading() as r:
            allergies = r.guests.allergies_of(guest_ids)
        return DaySheet(restaurant, day, tuple(views), position, allergies)
