"""What the booking use cases need of the data, as protocols.

:class:`saveit.store.unit_of_work.Database` satisfies them with SQL; the unit
tests (``tests/unit/booking``) with dictionaries. Typing the use cases against
these, rather than the store's classes, is what lets one be swapped for the
other, and lists in one place every query the booking engine makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from saveit.domain.commands import Actor, GuestDetails
from saveit.domain.model import Booked, Restaurant, Status
from saveit.domain.views import GuestView, ReservationView


class KeyEntry(Protocol):
    """A stored ``Idempotency-Key``."""

    @property
    def request_hash(self) -> str: ...

    @property
    def reservation_id(self) -> int | None: ...


class BookedAtOnce(Protocol):
    """A booking written with its guest in one statement."""

    @property
    def reservation_id(self) -> int: ...

    @property
    def guest(self) -> GuestView: ...


class Idempotency(Protocol):
    def claim_key(self, restaurant_id: int, key: str, request_hash: str, now: datetime) -> bool: ...

    def entry(self, restaurant_id: int, key: str) -> KeyEntry | None: ...

    def bind(self, restaurant_id: int, key: str, reservation_id: int) -> None: ...


class Guests(Protocol):
    def find_or_create(
        self, restaurant_id: int, details: GuestDetails, now: datetime
    ) -> GuestView | None: ...

    def known(
        self, restaurant_id: int, guest_id: int, details: GuestDetails, now: datetime
    ) -> GuestView | None: ...


class Reservations(Protocol):
    # --- reads ---
    def view_by_code(self, code: str) -> ReservationView | None: ...

    def view_by_id(self, reservation_id: int) -> ReservationView: ...

    def views_between(
        self, restaurant_id: int, lo: datetime, hi: datetime
    ) -> list[ReservationView]: ...

    def upcoming_of_guest(
        self, restaurant_id: int, guest_id: int, after: datetime
    ) -> list[ReservationView]: ...

    def booked_between(
        self, restaurant_id: int, lo: datetime, hi: datetime, *, exclude_id: int | None = None
    ) -> list[Booked]: ...

    def busy_tables(
        self, table_ids: Iterable[int], cells: range, *, exclude_id: int | None = None
    ) -> set[int]: ...

    # --- writes ---
    def insert_reservation(self, values: dict[str, Any]) -> int | None: ...

    def claim(self, reservation_id: int, table_ids: Iterable[int], cells: range) -> bool: ...

    def insert_claiming(
        self, values: dict[str, Any], table_ids: Iterable[int], cells: range
    ) -> tuple[int | None, bool]: ...

    def insert_booked(
        self,
        view: ReservationView,
        area: str | None,
        table_ids: list[int],
        cells: range,
        actor: Actor,
        cap: int | None,
    ) -> tuple[int | None, bool, bool]:
        """Insert, seat and record the booking ``view`` describes (``store.booked``):
        its id (None: the code was taken), whether every cell was claimed, whether it
        was recorded and its covers counted."""
        ...

    def insert_booked_at_once(
        self,
        view: ReservationView,
        details: GuestDetails,
        area: str | None,
        table_ids: list[int],
        cells: range,
        actor: Actor,
        cap: int | None,
        pending_from: int | None,
        *,
        guest_id: int | None = None,
        key: tuple[str, str] | None = None,
    ) -> BookedAtOnce | None:
        """The booking ``view`` describes, its guest's row (``guest_id``'s, else found
        or made from ``details``) and its ``Idempotency-Key`` (with the request's hash)
        if any, in one statement that is its own transaction
        (``store.booked_at_once``); None: nothing was written."""
        ...

    def release(self, reservation_id: int, *, forget_tables: bool) -> None: ...

    def reschedule(
        self,
        reservation_id: int,
        version: int,
        *,
        start: datetime,
        end: datetime,
        party_size: int,
        buffer_minutes: int,
        notes: str,
        now: datetime,
    ) -> bool: ...

    def change_status(
        self, reservation_id: int, version: int, current: Status, target: Status, now: datetime
    ) -> bool: ...

    def add_covers(
        self, restaurant_id: int, slot_start: datetime, covers: int, cap: int | None
    ) -> bool: ...

    def bump_guest_counter(self, guest_id: int | None, column: str, at: datetime) -> None: ...

    def arrival_times(self, reservation_ids: Sequence[int]) -> dict[int, datetime]: ...

    def record_change(
        self,
        view: ReservationView,
        actor: Actor,
        action: str,
        before: ReservationView | None,
        now: datetime,
        *,
        reason: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None: ...

    def record_created(
        self, view: ReservationView, actor: Actor, now: datetime, cap: int | None
    ) -> bool: ...


class Reads(Protocol):
    """A read-only connection's repositories."""

    @property
    def reservations(self) -> Reservations: ...

    @property
    def idempotency(self) -> Idempotency: ...


class Work(Reads, Protocol):
    """One write transaction's repositories."""

    @property
    def guests(self) -> Guests: ...


class Data(Protocol):
    def unit_of_work(self) -> AbstractContextManager[Work]: ...

    def on_its_own(self) -> AbstractContextManager[Work] | None:
        """Statements that are each their own transaction; None: not on this store."""
        ...

    def reading(self) -> AbstractContextManager[Reads]: ...

    def tolerant_reading(
        self, *, caught_up_to: str | None = None
    ) -> AbstractContextManager[Reads]: ...


class Configurations(Protocol):
    """Restaurants' parsed configuration, cached per process (``RestaurantCache``).
    ``source`` is a reader or unit of work to load it through when the copy is stale."""

    def trusted(self, slug: str) -> tuple[Restaurant, int] | None: ...

    def get(self, source: Any, slug: str) -> Restaurant: ...

    def get_versioned(self, source: Any, slug: str) -> tuple[Restaurant, int]: ...

    def get_by_id(self, source: Any, restaurant_id: int) -> Restaurant: ...

    def preload(self, source: Any, limit: int) -> int: ...
