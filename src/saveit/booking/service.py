"""The booking engine: every way a reservation is made or changed, channel-agnostic.

Each write follows one pattern. Facts are read first, outside the write
transaction, to choose candidate tables. Then one transaction writes the
reservation, its table claims, the audit row and the outbox event. The claims'
unique key (see ``store.schema``) is what forbids an overlap: when a racing
booking got there first the insert fails, the savepoint rolls back and the next
candidate is tried; when none is left the whole transaction rolls back and the
caller gets ``SLOT_TAKEN`` with the nearest free alternatives. No lock, cache or
earlier read is trusted for correctness.

The use cases live in their own modules (:mod:`.create`, :mod:`.change`,
:mod:`.status`, :mod:`.walk_in`, :mod:`.queries`), the rules they apply in
:mod:`saveit.domain.reservation`; :class:`BookingService` is the one object the
rest of the application holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from saveit.booking import codes
from saveit.booking.change import ChangeBooking
from saveit.booking.context import (
    BookingContext,
    ChangeListener,
    Clock,
    DayHint,
    RefusalListener,
    utc_now,
)
from saveit.booking.create import CreateBooking
from saveit.booking.queries import Queries
from saveit.booking.status import ChangeStatus
from saveit.booking.walk_in import SeatWalkIn
from saveit.domain.availability import Occupancy, Slot
from saveit.domain.commands import Actor, CreateReservation, ModifyReservation, WalkIn
from saveit.domain.model import Restaurant, Status
from saveit.domain.views import Created, ReservationView
from saveit.store.replica import ReplicaReads
from saveit.store.restaurants import RestaurantCache
from saveit.store.unit_of_work import Database, DatabaseLike

__all__ = ["BookingService", "ChangeListener", "Clock", "DayHint", "utc_now"]


class BookingService:
    def __init__(
        self,
        database: Database | DatabaseLike,
        *,
        secret: bytes,
        cache: RestaurantCache | None = None,
        clock: Clock = utc_now,
        phone_region: str = "ES",
        listeners: Sequence[ChangeListener] = (),
        day_hint: DayHint | None = None,
        replica: ReplicaReads | None = None,
        refusal_listeners: Sequence[RefusalListener] = (),
    ) -> None:
        """``database``: the :class:`Database` (an engine is wrapped in one, with
        ``replica`` for the reads that tolerate lag)."""
        if isinstance(database, Database):
            db = database
        else:
            db = Database(database.engine, replica=replica)
        self.db = db
        self.engine = db.engine
        self.cache = cache or RestaurantCache()
        ctx = BookingContext(
            db,
            secret=secret,
            cache=self.cache,
            clock=clock,
            phone_region=phone_region,
            listeners=listeners,
            day_hint=day_hint,
            refusal_listeners=refusal_listeners,
        )
        self._ctx = ctx
        self._queries = queries = Queries(ctx)
        self._create = CreateBooking(ctx, queries)
        self._change = ChangeBooking(ctx, queries)
        self._status = ChangeStatus(ctx)
        self._walk_in = SeatWalkIn(ctx)
        self.clock = clock
        # The same list the use cases call: appending still reaches them.
        self.listeners = ctx.listeners

    @property
    def replica(self) -> ReplicaReads | None:
        return self.db.replica

    # --- plumbing -------------------------------------------------------------------
    # A connection for callers that still hand one to the store's functions; the
    # booking engine itself, and new code, read through ``db.reading()``.

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.db.reading() as r:
            yield r.connection

    @contextmanager
    def tolerant_reading(self, *, caught_up_to: str | None = None) -> Iterator[Any]:
        """See :meth:`saveit.store.unit_of_work.Database.tolerant_reading`."""
        with self.db.tolerant_reading(caught_up_to=caught_up_to) as r:
            yield r.connection

    def restaurant(self, slug: str) -> Restaurant:
        return self._ctx.restaurant(slug)

    def restaurant_version(self, slug: str) -> tuple[Restaurant, int]:
        """The configuration and its ``config_version`` (see ``RestaurantCache``)."""
        return self._ctx.restaurant_version(slug)

    def preload_configurations(self, limit: int) -> int:
        """Load up to ``limit`` restaurants' configurations now (a process starting)."""
        return self._ctx.preload_configurations(limit)

    def manage_token(self, code: str) -> str:
        return codes.manage_token(self._ctx.secret, code)

    def verify_manage_token(self, code: str, token: str) -> bool:
        """Whether ``token`` is ``code``'s manage token (the API also bounds its age)."""
        return codes.verify_manage_token(self._ctx.secret, code, token)

    def qr_link_token(self, view: ReservationView, *, grace: timedelta) -> str:
        """A token that only shows ``view``'s QR, until ``grace`` after the booking ends."""
        return codes.qr_link_token(self._ctx.secret, view.code, view.end + grace)

    def verify_qr_link_token(self, code: str, token: str) -> bool:
        return codes.verify_qr_link_token(self._ctx.secret, code, token, self.clock())

    # --- queries --------------------------------------------------------------------

    def alternatives(
        self,
        slug: str,
        start: datetime,
        party_size: int,
        *,
        limit: int = 3,
        exclude_code: str | None = None,
    ) -> list[datetime]:
        """Free starts nearest ``start`` (same day first, then the next days), as a
        guest may book them; ``exclude_code`` frees that booking's own tables (a move)."""
        return self._queries.alternatives(
            slug, start, party_size, limit=limit, exclude_code=exclude_code
        )

    def check_request(self, slug: str, start: datetime, party_size: int) -> None:
        """Raise the rule a guest's request breaks (closed, too soon, too large …)."""
        self._queries.check_request(slug, start, party_size)

    def availability(
        self,
        slug: str,
        day: date,
        party_size: int,
        *,
        area: str | None = None,
        staff: bool = False,
        exclude_code: str | None = None,
    ) -> tuple[Restaurant, list[Slot]]:
        """``exclude_code`` leaves that reservation's own tables out, as a move would."""
        return self._queries.availability(
            slug, day, party_size, area=area, staff=staff, exclude_code=exclude_code
        )

    def day_occupancy(self, slug: str, day: date) -> tuple[Restaurant, Occupancy]:
        """What a day's availability is computed from (see ``AvailabilityCache``)."""
        return self._queries.day_occupancy(slug, day)

    def days_occupancy(self, slug: str, days: Sequence[date]) -> tuple[Restaurant, Occupancy]:
        """Several days of one restaurant in one query (see ``AvailabilityCache``)."""
        return self._queries.days_occupancy(slug, days)

    def get(self, code: str) -> ReservationView:
        return self._ctx.get(code)

    def upcoming_of_guest(self, slug: str, guest_id: int) -> list[ReservationView]:
        """What a guest still has ahead at one restaurant: what a chat may act on."""
        return self._queries.upcoming_of_guest(slug, guest_id)

    def arrival_times(self, views: Sequence[ReservationView]) -> dict[int, datetime]:
        """When each seated booking's guests arrived (checked in, or walked in)."""
        return self._queries.arrival_times(views)

    def list_for_day(
        self, slug: str, day: date, *, caught_up_to: str | None = None
    ) -> list[ReservationView]:
        """The reservations of one service day (a late service's 00:30 on its evening)."""
        return self._queries.list_for_day(slug, day, caught_up_to=caught_up_to)

    # --- changes --------------------------------------------------------------------

    def create(self, cmd: CreateReservation, actor: Actor) -> Created:
        return self._create(cmd, actor)

    def modify(self, cmd: ModifyReservation, actor: Actor) -> ReservationView:
        return self._change(cmd, actor)

    def walk_in(self, cmd: WalkIn, actor: Actor) -> ReservationView:
        """Seat a party now: no contact needed, no opening-hours or lead-time rules."""
        return self._walk_in(cmd, actor)

    def cancel(
        self, code: str, actor: Actor, *, expected_version: int | None = None, reason: str = ""
    ) -> ReservationView:
        return self._status(
            code, Status.CANCELLED, actor, expected_version=expected_version, reason=reason
        )

    def confirm(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._status(code, Status.CONFIRMED, actor, expected_version=expected_version)

    def check_in(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._status(code, Status.CHECKED_IN, actor, expected_version=expected_version)

    def no_show(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._status(code, Status.NO_SHOW, actor, expected_version=expected_version)

    def complete(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._status(code, Status.COMPLETED, actor, expected_version=expected_version)

    def confirm_attendance(self, code: str, actor: Actor) -> ReservationView:
        """The guest says they are coming (a reminder's button): audited and announced."""
        return self._status.confirm_attendance(code, actor)
