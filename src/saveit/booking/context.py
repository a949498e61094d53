"""What every booking use case shares: its collaborators and the steps they compose.

The write pattern (see :mod:`saveit.booking.service`) is built from these steps:
free seatings read from the claims before the transaction, then inside it a
reservation row under a fresh code, the first candidate seating whose cells are
all free, and the change's audit row and event; after the commit the in-process
listeners hear of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from saveit.booking import codes
from saveit.domain import errors
from saveit.domain.availability import Occupancy, cells, end_of, seatings
from saveit.domain.commands import Actor
from saveit.domain.model import CLAIM_MINUTES, Booked, Restaurant, Seating, Status
from saveit.domain.schedule import windows_for
from saveit.domain.views import ReservationView
from saveit.observe import metrics
from saveit.store import reservations as store
from saveit.store.database import reading as read_only
from saveit.store.replica import ReplicaReads
from saveit.store.restaurants import RestaurantCache

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

Clock = Callable[[], datetime]
ChangeListener = Callable[[ReservationView, ReservationView | None], None]
"""Called after a committed change with (reservation now, reservation before or None)."""
DayHint = Callable[[str, date], Occupancy | None]  # (slug, service day) -> recent bookings


def utc_now() -> datetime:
    return datetime.now(UTC)


class Lost(Exception):
    """Every candidate seating was taken by racing bookings (or pacing filled up)."""


_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def retrying(write: Callable[[], _T]) -> _T:
    """Run a write transaction again when PostgreSQL aborted it to break a deadlock
    or a serialization conflict; such a transaction changed nothing."""
    for attempt in range(3):
        try:
            return write()
        except DBAPIError as exc:
            if attempt == 2 or getattr(exc.orig, "sqlstate", None) not in _TRANSIENT_SQLSTATES:
                raise
    raise AssertionError("unreachable")


class BookingContext:
    """The collaborators of the booking use cases, built once by the composition root."""

    def __init__(
        self,
        engine: Engine,
        *,
        secret: bytes,
        cache: RestaurantCache | None = None,
        clock: Clock = utc_now,
        phone_region: str = "ES",
        listeners: Sequence[ChangeListener] = (),
        day_hint: DayHint | None = None,
        replica: ReplicaReads | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache or RestaurantCache()
        self.clock = clock
        self.secret = secret
        self.phone_region = phone_region
        # After-commit hooks (e.g. the availability cache): told of every committed
        # change in this process; a failing listener is logged, never raised.
        self.listeners: list[ChangeListener] = list(listeners)
        # Where alternatives to a taken time look first for a day's bookings: a
        # copy read moments ago (the availability cache's, see
        # ``AvailabilityCache.recent_occupancy``). Alternatives are suggestions, and
        # booking one re-checks everything, so a copy as fresh as cached
        # availability saves reading the day again on every refusal.
        self.day_hint = day_hint
        # Where reads that tolerate lag go (SAVEIT_DATABASE_REPLICA_URL); None: the primary.
        self.replica = replica

    # --- reading --------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with read_only(self.engine) as conn:
            yield conn

    @contextmanager
    def tolerant_reading(self, *, caught_up_to: str | None = None) -> Iterator[Connection]:
        """A read that may lag a few seconds behind the primary (a streaming replica,
        :mod:`saveit.store.replica`): for answers that are advice or overviews, never
        for checks before a write or a read-back after one. The restaurant's
        configuration is not read here (see :meth:`restaurant`): an older copy from a
        replica would flap the process-wide cache. ``caught_up_to``: see
        :meth:`saveit.store.replica.ReplicaReads.primary_position`."""
        if self.replica is None:
            with self.reading() as conn:
                yield conn
        else:
            with self.replica.reading(caught_up_to=caught_up_to) as conn:
                yield conn

    def restaurant_version(self, slug: str) -> tuple[Restaurant, int]:
        """The configuration and its ``config_version`` (see ``RestaurantCache``)."""
        trusted = self.cache.trusted(slug)
        if trusted is not None:
            return trusted
        with self.reading() as conn:
            return self.cache.get_versioned(conn, slug)

    def restaurant(self, slug: str) -> Restaurant:
        return self.restaurant_version(slug)[0]

    def get(self, code: str) -> ReservationView:
        with self.reading() as conn:
            view = store.view_by_code(conn, code)
        if view is None:
            raise errors.NotFound("No such reservation", code=code)
        return view

    # --- seatings -------------------------------------------------------------------

    @staticmethod
    def day_bounds(restaurant: Restaurant, day: date) -> tuple[datetime, datetime]:
        tz = restaurant.tz
        lo = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=2), datetime.min.time(), tzinfo=tz)
        return lo, hi.astimezone(UTC)

    def booked_for_starts(
        self, conn: Connection, restaurant: Restaurant, day: date, exclude_id: int | None = None
    ) -> list[Booked]:
        """The bookings that can collide with a start on the day's grid: those still
        running at the first opening and those starting before the last possible
        stay ends. Narrower than the whole day, so availability parses fewer rows."""
        windows = windows_for(restaurant, day)
        if not windows:
            lo, hi = self.day_bounds(restaurant, day)
            return store.booked_between(conn, restaurant.id, lo, hi, exclude_id=exclude_id)
        rules = restaurant.rules
        slack = timedelta(minutes=CLAIM_MINUTES)  # claims are whole cells
        longest = timedelta(minutes=max(t.minutes for t in rules.turn_times) + rules.buffer_minutes)
        lo = min(w.opens for w in windows) - slack
        hi = max(w.closes for w in windows) + longest + slack
        return store.booked_between(conn, restaurant.id, lo, hi, exclude_id=exclude_id)

    @staticmethod
    def free_seatings(
        conn: Connection,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        area: str | None = None,
        exclude_id: int | None = None,
    ) -> list[Seating]:
        """Seatings free for the whole stay, best first, as the claims stand now
        (``exclude_id``: a booking being moved does not block itself)."""
        options = seatings(restaurant, party_size, area)
        wanted = cells(
            start, end_of(restaurant, start, party_size), restaurant.rules.buffer_minutes
        )
        tables = {table_id for option in options for table_id in option.table_ids}
        busy = store.busy_tables(conn, tables, wanted, exclude_id=exclude_id)
        return [option for option in options if busy.isdisjoint(option.table_ids)]

    @staticmethod
    def named_seating(restaurant: Restaurant, codes_: Sequence[str]) -> Seating:
        by_code = {t.code: t for t in restaurant.tables if t.active}
        missing = [c for c in codes_ if c not in by_code]
        if missing:
            raise errors.ValidationFailed(f"Unknown table(s): {', '.join(missing)}", tables=missing)
        chosen = [by_code[c] for c in dict.fromkeys(codes_)]
        areas = {t.area for t in chosen}
        return Seating(
            tuple(sorted(t.id for t in chosen)),
            tuple(sorted(t.code for t in chosen)),
            areas.pop() if len(areas) == 1 else "mixed",
            sum(t.max_capacity for t in chosen),
            is_combination=len(chosen) > 1,
        )

    # --- writing --------------------------------------------------------------------

    @staticmethod
    def insert_reservation(
        conn: Connection,
        *,
        restaurant_id: int,
        guest_id: int | None,
        party_size: int,
        start: datetime,
        end: datetime,
        buffer: int,
        status: Status,
        source: str,
        notes: str,
        area: str | None,
        actor: Actor,
        now: datetime,
    ) -> tuple[int, str]:
        """The new row's id and public code."""
        for _attempt in range(5):
            code = codes.new_code()
            found = store.insert_reservation(
                conn,
                {
                    "code": code,
                    "restaurant_id": restaurant_id,
                    "guest_id": guest_id,
                    "party_size": party_size,
                    "start_at": start,
                    "end_at": end,
                    "buffer_minutes": buffer,
                    "status": status.value,
                    "source": source,
                    "notes": notes,
                    "area_preference": area,
                    "created_by": actor.label,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
            if found is not None:
                return found, code
            # a code collision: 40 random bits, so vanishingly rare
        raise RuntimeError("could not draw a free reservation code")

    @staticmethod
    def claim_first_free(
        conn: Connection, reservation_id: int, candidates: Sequence[Seating], span: range
    ) -> Seating:
        for seating in candidates:
            if store.claim(conn, reservation_id, seating.table_ids, span):
                return seating
            # a racing booking holds a cell: try the next table
            metrics.claim_conflicts.inc()
        raise Lost

    def changed(self, view: ReservationView, before: ReservationView | None) -> ReservationView:
        for listener in self.listeners:
            try:
                listener(view, before)
            except Exception:
                _log.exception("change listener failed for reservation %s", view.code)
        return view
