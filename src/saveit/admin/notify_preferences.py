"""Which channels a guest hears from us on, set by staff or by the guest.
``None`` is the default (the channel a booking came from, plus email when known)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from saveit.domain import errors
from saveit.store.unit_of_work import Database


@dataclass(frozen=True, slots=True)
class Preference:
    channels: list[str] | None

    @property
    def default(self) -> bool:
        return self.channels is None


class NotifyPreferences:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, guest_id: int) -> Preference:
        with self.db.reading() as r:
            return Preference(r.notifications.channels_of(guest_id))

    def choose(self, guest_id: int, channels: Sequence[str] | None) -> Preference:
        with self.db.unit_of_work() as uow:
            uow.notifications.set_channels(guest_id, channels)
        return self.of(guest_id)

    def of_guest_at(self, slug: str, guest_id: int) -> Preference:
        return self.of(self._guest_at(slug, guest_id))

    def choose_for_guest_at(
        self, slug: str, guest_id: int, channels: Sequence[str] | None
    ) -> Preference:
        return self.choose(self._guest_at(slug, guest_id), channels)

    def _guest_at(self, slug: str, guest_id: int) -> int:
        """``guest_id``, once it is known to be a guest of ``slug``."""
        with self.db.reading() as r:
            found = r.guests.belongs_to(r.restaurants.id_of(slug), guest_id)
        if not found:
            raise errors.NotFound("No such guest at this restaurant", guest_id=guest_id)
        return guest_id
