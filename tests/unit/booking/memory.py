"""In-memory repositories behind the booking use cases' ports (``saveit.booking.ports``).

They keep what the store's tables keep, in dictionaries, with the store's
semantics where the use cases depend on them: a claim of a taken cell fails and
leaves nothing behind, version and status guard updates, a unit of work that
raises leaves no trace. They are a stand-in for the database in fast tests, not
a second implementation of the store.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from saveit.domain import errors
from saveit.domain.commands import Actor, GuestDetails
from saveit.domain.model import ACTIVE_STATUSES, OCCUPYING_STATUSES, Booked, Restaurant, Status
from saveit.domain.views import GuestView, ReservationView
from saveit.store.booked import reservation_row


@dataclass(frozen=True, slots=True)
class Key:
    request_hash: str
    reservation_id: int | None


@dataclass
class State:
    """Every table the booking engine writes, as dictionaries."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    seated: dict[int, tuple[int, ...]] = field(default_factory=dict)  # reservation_tables
    claims: dict[tuple[int, int], int] = field(default_factory=dict)  # (table, cell) -> id
    covers: dict[tuple[int, datetime], int] = field(default_factory=dict)
    guests: dict[int, GuestView] = field(default_factory=dict)
    keys: dict[tuple[int, str], Key] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


class MemoryReservations:
    def __init__(
        self, state: State, restaurants: dict[int, Restaurant], *, racing: bool = False
    ) -> None:
        self.state = state
        self.restaurants = restaurants
        self.racing = racing  # every claim fails, as if racing bookings held the cells

    def _view(self, row: dict[str, Any]) -> ReservationView:
        restaurant = self.restaurants[row["restaurant_id"]]
        codes = {t.id: t.code for t in restaurant.tables}
        guest = self.state.guests.get(row["guest_id"]) if row["guest_id"] else None
        return ReservationView(
            id=row["id"],
            code=row["code"],
            restaurant_id=row["restaurant_id"],
            restaurant=restaurant.slug,
            guest=guest,
            party_size=row["party_size"],
            start=row["start_at"],
            end=row["end_at"],
            buffer_minutes=row["buffer_minutes"],
            tables=tuple(sorted(codes[t] for t in self.state.seated.get(row["id"], ()))),
            status=Status(row["status"]),
            source=row["source"],
            notes=row["notes"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            version=row["version"],
        )

    def view_by_code(self, code: str) -> ReservationView | None:
        found = [r for r in self.state.rows.values() if r["code"] == code]
        return self._view(found[0]) if found else None

    def view_by_id(self, reservation_id: int) -> ReservationView:
        return self._view(self.state.rows[reservation_id])

    def views_between(
        self, restaurant_id: int, lo: datetime, hi: datetime
    ) -> list[ReservationView]:
        rows = [
            r
            for r in self.state.rows.values()
            if r["restaurant_id"] == restaurant_id and lo <= r["start_at"] < hi
        ]
        return [self._view(r) for r in sorted(rows, key=lambda r: (r["start_at"], r["id"]))]

    def upcoming_of_guest(
        self, restaurant_id: int, guest_id: int, after: datetime
    ) -> list[ReservationView]:
        return [
            v
            for v in self.views_between(
                restaurant_id, after, datetime.max.replace(tzinfo=after.tzinfo)
            )
            if v.guest is not None and v.guest.id == guest_id and v.status in ACTIVE_STATUSES
        ]

    def booked_between(
        self, restaurant_id: int, lo: datetime, hi: datetime, *, exclude_id: int | None = None
    ) -> list[Booked]:
        occupying = {s.value for s in OCCUPYING_STATUSES}
        return [
            Booked(
                tuple(sorted(self.state.seated.get(r["id"], ()))),
                r["start_at"],
                r["end_at"],
                r["buffer_minutes"],
                r["party_size"],
            )
            for r in self.state.rows.values()
            if r["restaurant_id"] == restaurant_id
            and r["status"] in occupying
            and r["id"] != exclude_id
            and r["start_at"] < hi
            and r["end_at"] + timedelta(minutes=r["buffer_minutes"]) > lo
        ]

    def busy_tables(
        self, table_ids: Iterable[int], cells: range, *, exclude_id: int | None = None
    ) -> set[int]:
        claims = self.state.claims
        return {
            t for t in table_ids for c in cells if (t, c) in claims and claims[(t, c)] != exclude_id
        }

    def insert_reservation(self, values: dict[str, Any]) -> int | None:
        if any(r["code"] == values["code"] for r in self.state.rows.values()):
            return None
        rid = self.state.new_id()
        self.state.rows[rid] = {**values, "id": rid}
        return rid

    def claim(self, reservation_id: int, table_ids: Iterable[int], cells: range) -> bool:
        wanted = [(t, c) for t in table_ids for c in cells]
        if self.racing or any(key in self.state.claims for key in wanted):
            return False
        for key in wanted:
            self.state.claims[key] = reservation_id
        self.state.seated[reservation_id] = tuple(sorted({t for t, _ in wanted}))
        return True

    def insert_claiming(
        self, values: dict[str, Any], table_ids: Iterable[int], cells: range
    ) -> tuple[int | None, bool]:
        made = self.insert_reservation(values)
        return made, made is not None and self.claim(made, table_ids, cells)

    def insert_booked(
        self,
        view: ReservationView,
        area: str | None,
        table_ids: list[int],
        cells: range,
        actor: Actor,
        cap: int | None,
    ) -> tuple[int | None, bool, bool]:
        """As ``store.booked.insert_booked``: recorded and counted only when every
        cell was claimed."""
        made, claimed = self.insert_claiming(reservation_row(view, area, actor), table_ids, cells)
        if made is None or not claimed:
            return made, claimed, False
        counted = self.record_created(replace(view, id=made), actor, view.created_at, cap)
        return made, True, counted

    def release(self, reservation_id: int, *, forget_tables: bool) -> None:
        for key in [k for k, rid in self.state.claims.items() if rid == reservation_id]:
            del self.state.claims[key]
        if forget_tables:
            self.state.seated.pop(reservation_id, None)

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
    ) -> bool:
        row = self.state.rows[reservation_id]
        if row["version"] != version:
            return False
        row.update(
            start_at=start,
            end_at=end,
            party_size=party_size,
            buffer_minutes=buffer_minutes,
            notes=notes,
            updated_at=now,
            version=version + 1,
        )
        return True

    def change_status(
        self, reservation_id: int, version: int, current: Status, target: Status, now: datetime
    ) -> bool:
        row = self.state.rows[reservation_id]
        if row["version"] != version or row["status"] != current.value:
            return False
        row.update(status=target.value, updated_at=now, version=version + 1)
        return True

    def add_covers(
        self, restaurant_id: int, slot_start: datetime, covers: int, cap: int | None
    ) -> bool:
        total = self.state.covers.get((restaurant_id, slot_start), 0) + covers
        if cap is not None and covers > 0 and total > cap:
            return False
        self.state.covers[(restaurant_id, slot_start)] = total
        return True

    def bump_guest_counter(self, guest_id: int | None, column: str, at: datetime) -> None:
        if guest_id is None:
            return
        guest = self.state.guests[guest_id]
        self.state.guests[guest_id] = replace(guest, **{column: getattr(guest, column) + 1})

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
    ) -> None:
        after = view.snapshot()
        if reason:
            after["reason"] = reason
        self.state.log.append(
            {
                "reservation_id": view.id,
                "action": action,
                "actor": actor.label,
                "after": after,
                "at": now,
            }
        )
        self.state.outbox.append({"type": f"reservation.{action}", "reservation": after})

    def record_created(
        self, view: ReservationView, actor: Actor, now: datetime, cap: int | None
    ) -> bool:
        """As ``store.changes.record_created``: written, then refused by the cap
        (the transaction that gets False is rolled back)."""
        self.record_change(view, actor, "created", None, now)
        return self.add_covers(view.restaurant_id, view.start, view.party_size, cap)

    def arrival_times(self, reservation_ids: Sequence[int]) -> dict[int, datetime]:
        """As ``store.changes.arrival_times``: the last check-in, else when it was made."""
        found: dict[int, datetime] = {}
        for entry in self.state.log:
            rid = entry["reservation_id"]
            if rid not in reservation_ids:
                continue
            if entry["action"] == "checked_in" or rid not in found:
                found[rid] = entry["at"]
        return found


class MemoryGuests:
    def __init__(self, state: State) -> None:
        self.state = state

    def find_or_create(
        self, restaurant_id: int, details: GuestDetails, now: datetime
    ) -> GuestView | None:
        for guest in self.state.guests.values():
            if details.phone and guest.phone == details.phone:
                return guest
            if not details.phone and details.email and guest.email == details.email:
                return guest
        gid = self.state.new_id()
        guest = GuestView(gid, details.name, details.phone, details.email, details.language, 0, 0)
        self.state.guests[gid] = guest
        return guest

    def known(
        self, restaurant_id: int, guest_id: int, details: GuestDetails, now: datetime
    ) -> GuestView | None:
        return self.state.guests.get(guest_id)


class MemoryIdempotency:
    def __init__(self, state: State) -> None:
        self.state = state

    def claim_key(self, restaurant_id: int, key: str, request_hash: str, now: datetime) -> bool:
        if (restaurant_id, key) in self.state.keys:
            return False
        self.state.keys[(restaurant_id, key)] = Key(request_hash, None)
        return True

    def entry(self, restaurant_id: int, key: str) -> Key | None:
        return self.state.keys.get((restaurant_id, key))

    def bind(self, restaurant_id: int, key: str, reservation_id: int) -> None:
        found = self.state.keys[(restaurant_id, key)]
        self.state.keys[(restaurant_id, key)] = replace(found, reservation_id=reservation_id)


class MemoryWork:
    """One unit of work's repositories over a state (a copy, while it is open)."""

    def __init__(
        self, state: State, restaurants: dict[int, Restaurant], *, racing: bool = False
    ) -> None:
        self.reservations = MemoryReservations(state, restaurants, racing=racing)
        self.guests = MemoryGuests(state)
        self.idempotency = MemoryIdempotency(state)


class MemoryData:
    """The database: a unit of work works on a copy, kept only when it ends cleanly."""

    def __init__(self, *restaurants: Restaurant) -> None:
        self.restaurants = {r.id: r for r in restaurants}
        self.state = State()
        self.transactions = 0  # committed units of work
        self.racing = False

    @contextmanager
    def unit_of_work(self) -> Iterator[MemoryWork]:
        draft = copy.deepcopy(self.state)
        yield MemoryWork(draft, self.restaurants, racing=self.racing)
        self.state = draft  # not reached when the block raised: a rollback
        self.transactions += 1

    def on_its_own(self) -> None:
        """No statement here is its own transaction: every write takes a unit of work."""
        return None

    @contextmanager
    def reading(self) -> Iterator[MemoryWork]:
        yield MemoryWork(self.state, self.restaurants)

    @contextmanager
    def tolerant_reading(self, *, caught_up_to: str | None = None) -> Iterator[MemoryWork]:
        yield MemoryWork(self.state, self.restaurants)


class MemoryConfigurations:
    """The restaurants' configuration, as ``RestaurantCache`` serves it."""

    def __init__(self, *restaurants: Restaurant) -> None:
        self.by_slug = {r.slug: r for r in restaurants}

    def trusted(self, slug: str) -> tuple[Restaurant, int] | None:
        return self.get_versioned(None, slug)

    def get(self, source: Any, slug: str) -> Restaurant:
        return self.get_versioned(source, slug)[0]

    def get_versioned(self, source: Any, slug: str) -> tuple[Restaurant, int]:
        if slug not in self.by_slug:
            raise errors.NotFound("No such restaurant", restaurant=slug)
        return self.by_slug[slug], 1

    def get_by_id(self, source: Any, restaurant_id: int) -> Restaurant:
        return next(r for r in self.by_slug.values() if r.id == restaurant_id)
