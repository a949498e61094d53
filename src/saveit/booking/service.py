"""The booking engine: every way a reservation is made or changed, channel-agnostic.

Each write follows one pattern. Facts are read first, outside the write
transaction, to choose candidate tables. Then one transaction writes the
reservation, its table claims, the audit row and the outbox event. The claims'
unique key (see ``store.schema``) is what forbids an overlap: when a racing
booking got there first the insert fails, the savepoint rolls back and the next
candidate is tried; when none is left the whole transaction rolls back and the
caller gets ``SLOT_TAKEN`` with the nearest free alternatives. No lock, cache or
earlier read is trusted for correctness.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError

from saveit.booking import codes
from saveit.domain import errors
from saveit.domain.availability import (
    Occupancy,
    Slot,
    bookable_starts,
    cells,
    check_party,
    check_rules,
    end_of,
    nearest_alternatives,
    seatings,
)
from saveit.domain.commands import (
    Actor,
    CreateReservation,
    GuestDetails,
    ModifyReservation,
    WalkIn,
)
from saveit.domain.model import (
    ACTIVE_STATUSES,
    CLAIM_MINUTES,
    TRANSITIONS,
    Booked,
    Restaurant,
    Seating,
    Status,
)
from saveit.domain.schedule import business_day_of, windows_for
from saveit.domain.views import Created, GuestView, ReservationView
from saveit.observe import metrics
from saveit.store import guests as guest_store
from saveit.store import reservations as store
from saveit.store.database import ignoring_conflicts
from saveit.store.database import reading as read_only
from saveit.store.replica import ReplicaReads
from saveit.store.restaurants import RestaurantCache
from saveit.store.schema import idempotency_keys, reservations

_log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
ChangeListener = Callable[[ReservationView, ReservationView | None], None]
DayHint = Callable[[str, date], Occupancy | None]  # (slug, service day) -> recent bookings
"""Called after a committed change with (reservation now, reservation before or None)."""
_T = TypeVar("_T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class BookingService:
    def __init__(
        self,
        engine: Engine,
        *,
        secret: bytes,
        cache: RestaurantCache | None = None,
        clock: Clock = utc_now,
        phone_region: str = "ES",
    ) -> None:
        self.engine = engine
        self.cache = cache or RestaurantCache()
        self.clock = clock
        self._secret = secret
        self._phone_region = phone_region
        # After-commit hooks (e.g. the availability cache): told of every committed
        # change in this process; a failing listener is logged, never raised.
        self.listeners: list[ChangeListener] = []
        # Told of every refused create (the analytics' success rate); must not raise.
        self.refusal_listeners: list[Callable[[CreateReservation, Actor, str], None]] = []
        # Where alternatives to a taken time look first for a day's bookings: a
        # copy read moments ago (the availability cache's, see
        # ``AvailabilityCache.recent_occupancy``). Alternatives are suggestions, and
        # booking one re-checks everything, so a copy as fresh as cached
        # availability saves reading the day again on every refusal.
        self.day_hint: DayHint | None = None
        # Where reads that tolerate lag go (SAVEIT_DATABASE_REPLICA_URL); None: the primary.
        self.replica: ReplicaReads | None = None

    # --- plumbing -------------------------------------------------------------------

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

    def restaurant(self, slug: str) -> Restaurant:
        return self.restaurant_version(slug)[0]

    def restaurant_version(self, slug: str) -> tuple[Restaurant, int]:
        """The configuration and its ``config_version`` (see ``RestaurantCache``)."""
        trusted = self.cache.trusted(slug)
        if trusted is not None:
            return trusted
        with self.reading() as conn:
            return self.cache.get_versioned(conn, slug)

    def manage_token(self, code: str) -> str:
        return codes.manage_token(self._secret, code)

    def verify_manage_token(self, code: str, token: str) -> bool:
        """Whether ``token`` is ``code``'s manage token (the API also bounds its age)."""
        return codes.verify_manage_token(self._secret, code, token)

    def qr_link_token(self, view: ReservationView, *, grace: timedelta) -> str:
        """A token that only shows ``view``'s QR, until ``grace`` after the booking ends."""
        return codes.qr_link_token(self._secret, view.code, view.end + grace)

    def verify_qr_link_token(self, code: str, token: str) -> bool:
        return codes.verify_qr_link_token(self._secret, code, token, self.clock())

    @staticmethod
    def _day_bounds(restaurant: Restaurant, day: date) -> tuple[datetime, datetime]:
        tz = restaurant.tz
        lo = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=2), datetime.min.time(), tzinfo=tz)
        return lo, hi.astimezone(UTC)

    def _booked_on(
        self, conn: Connection, restaurant: Restaurant, day: date, exclude_id: int | None = None
    ) -> list[Booked]:
        lo, hi = self._day_bounds(restaurant, day)
        return store.booked_between(conn, restaurant.id, lo, hi, exclude_id=exclude_id)

    def _booked_for_starts(
        self, conn: Connection, restaurant: Restaurant, day: date, exclude_id: int | None = None
    ) -> list[Booked]:
        """The bookings that can collide with a start on the day's grid: those still
        running at the first opening and those starting before the last possible
        stay ends. Narrower than the whole day, so availability parses fewer rows."""
        windows = windows_for(restaurant, day)
        if not windows:
            return self._booked_on(conn, restaurant, day, exclude_id)
        rules = restaurant.rules
        slack = timedelta(minutes=CLAIM_MINUTES)  # claims are whole cells
        longest = timedelta(minutes=max(t.minutes for t in rules.turn_times) + rules.buffer_minutes)
        lo = min(w.opens for w in windows) - slack
        hi = max(w.closes for w in windows) + longest + slack
        return store.booked_between(conn, restaurant.id, lo, hi, exclude_id=exclude_id)

    def _free_seatings(
        self,
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

    def _slot_taken(
        self,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        staff: bool,
        exclude_id: int | None = None,
    ) -> errors.SlotTaken:
        alternatives = self._alternatives(restaurant, start, party_size, staff, exclude_id)
        return errors.SlotTaken(
            "That time is no longer free",
            alternatives=[a.isoformat() for a in alternatives],
        )

    def _alternatives(
        self,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        staff: bool,
        exclude_id: int | None = None,
        limit: int = 3,
    ) -> list[datetime]:
        now = self.clock()
        hint = self.day_hint if exclude_id is None else None  # a hint holds every booking
        with ExitStack() as stack:
            conn: Connection | None = None

            def booked_on(day: date) -> Sequence[Booked] | Occupancy:
                nonlocal conn
                held = hint(restaurant.slug, day) if hint is not None else None
                if held is not None:
                    return held
                if conn is None:
                    conn = stack.enter_context(self.reading())
                return self._booked_for_starts(conn, restaurant, day, exclude_id)

            return nearest_alternatives(
                restaurant, start, party_size, now, booked_on, staff=staff, limit=limit
            )

    # --- queries ----------------------------------------------------------------------

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
        exclude_id = self.get(exclude_code).id if exclude_code else None
        return self._alternatives(
            self.restaurant(slug), start, party_size, False, exclude_id, limit
        )

    def check_request(self, slug: str, start: datetime, party_size: int) -> None:
        """Raise the rule a guest's request breaks (closed, too soon, too large …)."""
        check_rules(self.restaurant(slug), start, party_size, self.clock(), staff=False)

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
        if not 1 <= party_size <= 1000:
            raise errors.ValidationFailed("party_size must be between 1 and 1000")
        now = self.clock()
        restaurant = self.restaurant(slug)
        with self.tolerant_reading() as conn:
            exclude_id = None
            if exclude_code:
                excluded = store.view_by_code(conn, exclude_code)
                exclude_id = excluded.id if excluded else None
            booked = self._booked_for_starts(conn, restaurant, day, exclude_id)
        return restaurant, bookable_starts(
            restaurant, day, party_size, now, booked, area=area, staff=staff
        )

    def day_occupancy(self, slug: str, day: date) -> tuple[Restaurant, Occupancy]:
        """What a day's availability is computed from, read once: the availability
        cache reuses it for every party size while the day's cache generation holds."""
        restaurant = self.restaurant(slug)
        with self.tolerant_reading() as conn:
            booked = self._booked_for_starts(conn, restaurant, day)
        return restaurant, Occupancy(booked)

    def get(self, code: str) -> ReservationView:
        with self.reading() as conn:
            view = store.view_by_code(conn, code)
        if view is None:
            raise errors.NotFound("No such reservation", code=code)
        return view

    def upcoming_of_guest(self, slug: str, guest_id: int) -> list[ReservationView]:
        """What a guest still has ahead at one restaurant: what a chat may act on."""
        with self.reading() as conn:
            restaurant = self.cache.get(conn, slug)
            return store.upcoming_of_guest(conn, restaurant.id, guest_id, self.clock())

    def list_for_day(
        self, slug: str, day: date, *, caught_up_to: str | None = None
    ) -> list[ReservationView]:
        """The reservations of one service day: a 00:30 start of a late service that
        opened the evening before is listed on that evening's day."""
        restaurant = self.restaurant(slug)
        with self.tolerant_reading(caught_up_to=caught_up_to) as conn:
            lo, hi = self._day_bounds(restaurant, day)
            views = store.views_between(conn, restaurant.id, lo, hi)
        return [v for v in views if self._service_day(restaurant, v.start) == day]

    @staticmethod
    def _service_day(restaurant: Restaurant, start: datetime) -> date:
        return business_day_of(restaurant, start) or start.astimezone(restaurant.tz).date()

    # --- create -----------------------------------------------------------------------

    @staticmethod
    def _request_hash(cmd: CreateReservation) -> str:
        doc = {
            "start": cmd.start.astimezone(UTC).isoformat(),
            "party_size": cmd.party_size,
            "name": cmd.guest.name,
            "phone": cmd.guest.phone,
            "email": cmd.guest.email,
            "notes": cmd.notes,
            "area": cmd.area,
            "tables": list(cmd.tables),
            "guest_id": cmd.guest_id,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def _replay(
        self, conn: Connection, restaurant: Restaurant, cmd: CreateReservation, request_hash: str
    ) -> Created | None:
        row = conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.restaurant_id == restaurant.id,
                idempotency_keys.c.key == cmd.idempotency_key,
            )
        ).one_or_none()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise errors.Conflict(
                "This Idempotency-Key was used for a different request",
                idempotency_key=cmd.idempotency_key,
            )
        if row.reservation_id is None:
            raise errors.Conflict("A request with this Idempotency-Key is still in progress")
        return Created(store.view_by_id(conn, row.reservation_id), replayed=True)

    def _normalised(self, cmd: CreateReservation) -> CreateReservation:
        guest = cmd.guest
        if guest.phone:
            guest = replace(
                guest, phone=guest_store.normalise_phone(guest.phone, self._phone_region)
            )
        if guest.email:
            guest = replace(guest, email=guest_store.normalise_email(guest.email))
        if cmd.start.tzinfo is None:
            raise errors.ValidationFailed("start must carry a UTC offset", field="start")
        return replace(cmd, guest=guest, start=cmd.start.astimezone(UTC))

    def _named_seating(self, restaurant: Restaurant, codes_: Sequence[str]) -> Seating:
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

    def create(self, cmd: CreateReservation, actor: Actor) -> Created:
        try:
            return self._create(cmd, actor)
        except errors.DomainError as exc:
            metrics.count_refusal(exc.code)
            for listener in self.refusal_listeners:
                listener(cmd, actor, exc.code)
            raise

    def _create(self, cmd: CreateReservation, actor: Actor) -> Created:
        cmd = self._normalised(cmd)
        if cmd.tables and not actor.is_staff:
            raise errors.Forbidden("Only staff choose tables")
        if cmd.status not in {Status.PENDING, Status.CONFIRMED}:
            raise errors.ValidationFailed("A new reservation is pending or confirmed")
        now = self.clock()
        request_hash = self._request_hash(cmd)
        with self.reading() as conn:
            restaurant = self.cache.get(conn, cmd.restaurant)
            if cmd.idempotency_key:
                replayed = self._replay(conn, restaurant, cmd, request_hash)
                if replayed:
                    return replayed
            check_rules(restaurant, cmd.start, cmd.party_size, now, staff=actor.is_staff)
            if cmd.tables:
                candidates = [self._named_seating(restaurant, cmd.tables)]
            else:
                candidates = self._free_seatings(
                    conn, restaurant, cmd.start, cmd.party_size, cmd.area
                )
        if not candidates:
            raise self._slot_taken(restaurant, cmd.start, cmd.party_size, actor.is_staff)
        try:
            made = _retrying(
                lambda: self._write_new(restaurant, cmd, actor, candidates, request_hash, now)
            )
        except _Lost:
            raise self._slot_taken(restaurant, cmd.start, cmd.party_size, actor.is_staff) from None
        if not made.replayed:
            self._changed(made.reservation, None)
        return made

    def _write_new(
        self,
        restaurant: Restaurant,
        cmd: CreateReservation,
        actor: Actor,
        candidates: Sequence[Seating],
        request_hash: str,
        now: datetime,
    ) -> Created:
        """One transaction of about ten statements. The view is built here rather
        than read back, and the slot's cover counter — the one row every booking
        of a popular time shares — is written last, so its lock is held only
        until the commit."""
        end = end_of(restaurant, cmd.start, cmd.party_size)
        buffer = restaurant.rules.buffer_minutes
        with self.engine.begin() as conn:
            if cmd.idempotency_key:
                fresh = conn.execute(
                    ignoring_conflicts(conn.dialect.name, idempotency_keys, idempotency_keys.c.key),
                    {
                        "restaurant_id": restaurant.id,
                        "key": cmd.idempotency_key,
                        "request_hash": request_hash,
                        "created_at": now,
                    },
                ).first()
                if fresh is None:
                    replayed = self._replay(conn, restaurant, cmd, request_hash)
                    assert replayed is not None
                    return replayed
            guest = (
                guest_store.known(conn, restaurant.id, cmd.guest_id, cmd.guest, now)
                if cmd.guest_id is not None
                else guest_store.find_or_create(conn, restaurant.id, cmd.guest, now)
            )
            if cmd.guest_id is not None and guest is None:
                raise errors.NotFound("No such guest", guest_id=cmd.guest_id)
            status = _status_for(restaurant, cmd.status, guest, actor)
            reservation_id, code = self._insert_reservation(
                conn,
                restaurant_id=restaurant.id,
                guest_id=guest.id if guest else None,
                party_size=cmd.party_size,
                start=cmd.start,
                end=end,
                buffer=buffer,
                status=status,
                source=cmd.source,
                notes=cmd.notes,
                area=cmd.area,
                actor=actor,
                now=now,
            )
            seating = self._claim_first_free(
                conn, reservation_id, candidates, cells(cmd.start, end, buffer)
            )
            if cmd.idempotency_key:
                conn.execute(
                    update(idempotency_keys)
                    .where(
                        idempotency_keys.c.restaurant_id == restaurant.id,
                        idempotency_keys.c.key == cmd.idempotency_key,
                    )
                    .values(reservation_id=reservation_id)
                )
            view = ReservationView(
                id=reservation_id,
                code=code,
                restaurant_id=restaurant.id,
                restaurant=restaurant.slug,
                guest=guest,
                party_size=cmd.party_size,
                start=cmd.start,
                end=end,
                buffer_minutes=buffer,
                tables=tuple(sorted(seating.codes)),
                status=status,
                source=cmd.source,
                notes=cmd.notes,
                created_at=now,
                updated_at=now,
                version=1,
            )
            self._record(conn, view, actor, "created", None, now)
            if not store.add_covers(
                conn,
                restaurant.id,
                cmd.start,
                cmd.party_size,
                restaurant.rules.pacing_covers_per_slot,
            ):
                raise _Lost
        return Created(view, replayed=False)

    def _insert_reservation(
        self,
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
    def _claim_first_free(
        conn: Connection, reservation_id: int, candidates: Sequence[Seating], span: range
    ) -> Seating:
        for seating in candidates:
            if store.claim(conn, reservation_id, seating.table_ids, span):
                return seating
            # a racing booking holds a cell: try the next table
            metrics.claim_conflicts.inc()
        raise _Lost

    def _record(
        self,
        conn: Connection,
        view: ReservationView,
        actor: Actor,
        action: str,
        before: ReservationView | None,
        now: datetime,
        *,
        reason: str = "",
    ) -> None:
        store.record_change(conn, view, actor, action, before, now, reason=reason)

    # --- modify -----------------------------------------------------------------------

    def modify(self, cmd: ModifyReservation, actor: Actor) -> ReservationView:
        try:
            return self._modify(cmd, actor)
        except errors.DomainError as exc:
            metrics.count_refusal(exc.code)
            raise

    def _modify(self, cmd: ModifyReservation, actor: Actor) -> ReservationView:
        now = self.clock()
        if cmd.tables is not None and not actor.is_staff:
            raise errors.Forbidden("Only staff choose tables")
        with self.reading() as conn:
            current = store.view_by_code(conn, cmd.code)
            if current is None:
                raise errors.NotFound("No such reservation", code=cmd.code)
            restaurant = self.cache.get_by_id(conn, current.restaurant_id)
            if cmd.expected_version is not None and cmd.expected_version != current.version:
                raise errors.Conflict(
                    "The reservation changed since you read it", version=current.version
                )
            if current.status not in ACTIVE_STATUSES:
                raise errors.InvalidTransition(
                    f"A {current.status.value} reservation cannot be changed",
                    status=current.status.value,
                )
            self._check_cutoff(restaurant, current, actor, now, errors.TooLateToChange)
            start = cmd.start.astimezone(UTC) if cmd.start else current.start
            party = cmd.party_size if cmd.party_size is not None else current.party_size
            moves = (
                start != current.start
                or party != current.party_size
                or (cmd.tables is not None and tuple(sorted(cmd.tables)) != current.tables)
            )
            candidates: list[Seating] = []
            if moves:
                if start == current.start and actor.is_staff:
                    # Staff re-seating or resizing a party at its own time: a seated
                    # party or a walk-in (off the grid, already started) may change too.
                    check_party(restaurant, party, staff=True)
                else:
                    check_rules(restaurant, start, party, now, staff=actor.is_staff)
                if cmd.tables is not None:
                    candidates = [self._named_seating(restaurant, cmd.tables)]
                else:
                    free = self._free_seatings(conn, restaurant, start, party, None, current.id)
                    # Keep the guest at the same table when it still fits and is free.
                    candidates = sorted(free, key=lambda s: s.codes != current.tables)
                if not candidates:
                    raise self._slot_taken(restaurant, start, party, actor.is_staff, current.id)
        try:
            view = _retrying(
                lambda: self._write_modify(
                    restaurant,
                    current,
                    cmd,
                    actor,
                    start,
                    party,
                    candidates if moves else None,
                    now,
                )
            )
        except _Lost:
            raise self._slot_taken(restaurant, start, party, actor.is_staff, current.id) from None
        self._changed(view, current)
        return view

    def _write_modify(
        self,
        restaurant: Restaurant,
        current: ReservationView,
        cmd: ModifyReservation,
        actor: Actor,
        start: datetime,
        party: int,
        candidates: Sequence[Seating] | None,
        now: datetime,
    ) -> ReservationView:
        end = end_of(restaurant, start, party) if candidates is not None else current.end
        buffer = (
            restaurant.rules.buffer_minutes if candidates is not None else (current.buffer_minutes)
        )
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(reservations)
                .where(reservations.c.id == current.id, reservations.c.version == current.version)
                .values(
                    start_at=start,
                    end_at=end,
                    party_size=party,
                    buffer_minutes=buffer,
                    notes=cmd.notes if cmd.notes is not None else current.notes,
                    updated_at=now,
                    version=current.version + 1,
                )
            ).rowcount
            if not changed:
                raise errors.Conflict("The reservation changed while we were updating it")
            if candidates is not None:
                store.release(conn, current.id, forget_tables=True)
                self._claim_first_free(conn, current.id, candidates, cells(start, end, buffer))
            view = store.view_by_id(conn, current.id)
            self._record(conn, view, actor, "modified", current, now)
            if candidates is not None:
                # Last, as in create. The two slot counters are touched in a fixed
                # order so that two bookings swapping slots cannot deadlock on them.
                moves_covers = sorted(
                    [
                        (current.start, -current.party_size, None),
                        (start, party, restaurant.rules.pacing_covers_per_slot),
                    ],
                    key=lambda item: item[0],
                )
                for slot_start, covers, cap in moves_covers:
                    if not store.add_covers(conn, restaurant.id, slot_start, covers, cap):
                        raise _Lost
        return view

    @staticmethod
    def _check_cutoff(
        restaurant: Restaurant,
        view: ReservationView,
        actor: Actor,
        now: datetime,
        error: type[errors.DomainError],
    ) -> None:
        cutoff = restaurant.rules.cancel_cutoff_minutes
        if not actor.is_staff and view.start - now < timedelta(minutes=cutoff):
            raise error(
                f"Changes online close {cutoff} minutes before the booking; "
                "please call the restaurant",
                cutoff_minutes=cutoff,
            )

    # --- status changes ------------------------------------------------------------------

    def cancel(
        self, code: str, actor: Actor, *, expected_version: int | None = None, reason: str = ""
    ) -> ReservationView:
        now = self.clock()
        current = self.get(code)
        if current.status is Status.CANCELLED:
            return current  # cancelling twice is harmless (retried webhooks, double clicks)
        restaurant = self.restaurant(current.restaurant)
        if current.status in ACTIVE_STATUSES:
            self._check_cutoff(restaurant, current, actor, now, errors.TooLateToCancel)
        return self._transition(current, Status.CANCELLED, actor, expected_version, now, reason)

    def confirm(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._transition(
            self.get(code), Status.CONFIRMED, actor, expected_version, self.clock()
        )

    def check_in(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._transition(
            self.get(code), Status.CHECKED_IN, actor, expected_version, self.clock()
        )

    def no_show(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._transition(
            self.get(code), Status.NO_SHOW, actor, expected_version, self.clock()
        )

    def complete(
        self, code: str, actor: Actor, expected_version: int | None = None
    ) -> ReservationView:
        return self._transition(
            self.get(code), Status.COMPLETED, actor, expected_version, self.clock()
        )

    def confirm_attendance(self, code: str, actor: Actor) -> ReservationView:
        """The guest says they are coming (a reminder's button): noted in the audit
        log and announced to staff; the booking itself does not change."""
        now = self.clock()
        view = self.get(code)
        if view.status not in ACTIVE_STATUSES or view.status is Status.CHECKED_IN:
            raise errors.InvalidTransition(
                f"A {view.status.value} reservation cannot be confirmed by the guest",
                status=view.status.value,
            )
        with self.engine.begin() as conn:
            self._record(conn, view, actor, "attendance_confirmed", None, now)
        return view

    def _transition(
        self,
        current: ReservationView,
        target: Status,
        actor: Actor,
        expected_version: int | None,
        now: datetime,
        reason: str = "",
    ) -> ReservationView:
        if target in {Status.CHECKED_IN, Status.NO_SHOW, Status.COMPLETED, Status.CONFIRMED} and (
            not actor.is_staff
        ):
            raise errors.Forbidden("Only staff change a reservation's status")
        if expected_version is not None and expected_version != current.version:
            raise errors.Conflict(
                "The reservation changed since you read it", version=current.version
            )
        if target not in TRANSITIONS[current.status]:
            raise errors.InvalidTransition(
                f"A {current.status.value} reservation cannot become {target.value}",
                status=current.status.value,
                target=target.value,
            )

        def write() -> ReservationView:
            with self.engine.begin() as conn:
                changed = conn.execute(
                    update(reservations)
                    .where(
                        reservations.c.id == current.id,
                        reservations.c.version == current.version,
                        reservations.c.status == current.status.value,
                    )
                    .values(status=target.value, updated_at=now, version=current.version + 1)
                ).rowcount
                if not changed:
                    raise errors.Conflict("The reservation changed while we were updating it")
                if not target.holds_tables:
                    store.release(conn, current.id, forget_tables=False)
                guest_id = current.guest.id if current.guest else None
                if target is Status.CHECKED_IN:
                    store.bump_guest_counter(conn, guest_id, "visit_count", now)
                elif target is Status.NO_SHOW:
                    store.bump_guest_counter(conn, guest_id, "no_show_count", now)
                view = store.view_by_id(conn, current.id)
                self._record(conn, view, actor, target.value, current, now, reason=reason)
                if target is Status.CANCELLED:  # last: the counter row is shared
                    store.add_covers(
                        conn, current.restaurant_id, current.start, -current.party_size, None
                    )
            return view

        return self._changed(_retrying(write), current)

    # --- walk-ins -----------------------------------------------------------------------

    def walk_in(self, cmd: WalkIn, actor: Actor) -> ReservationView:
        """Seat a party now: no contact needed, no opening-hours or lead-time rules."""
        if not actor.is_staff:
            raise errors.Forbidden("Walk-ins are seated by staff")
        if not 1 <= cmd.party_size <= 1000:
            raise errors.ValidationFailed("party_size must be between 1 and 1000")
        now = self.clock()
        start = now.replace(second=0, microsecond=0)
        with self.reading() as conn:
            restaurant = self.cache.get(conn, cmd.restaurant)
            check_party(restaurant, cmd.party_size, staff=True)
            if cmd.tables:
                candidates = [self._named_seating(restaurant, cmd.tables)]
            else:
                candidates = self._free_seatings(conn, restaurant, start, cmd.party_size, cmd.area)
        if not candidates:
            raise errors.SlotTaken("No table is free for that party right now", alternatives=[])
        end = end_of(restaurant, start, cmd.party_size)
        buffer = restaurant.rules.buffer_minutes

        def write() -> ReservationView:
            with self.engine.begin() as conn:
                guest = guest_store.find_or_create(
                    conn, restaurant.id, GuestDetails(name=cmd.name), now
                )
                guest_id = guest.id if guest else None
                reservation_id, _code = self._insert_reservation(
                    conn,
                    restaurant_id=restaurant.id,
                    guest_id=guest_id,
                    party_size=cmd.party_size,
                    start=start,
                    end=end,
                    buffer=buffer,
                    status=Status.CHECKED_IN,
                    source="walk_in",
                    notes=cmd.notes,
                    area=cmd.area,
                    actor=actor,
                    now=now,
                )
                self._claim_first_free(conn, reservation_id, candidates, cells(start, end, buffer))
                store.bump_guest_counter(conn, guest_id, "visit_count", now)
                view = store.view_by_id(conn, reservation_id)
                self._record(conn, view, actor, "walk_in", None, now)
            return view

        try:
            seated = _retrying(write)
        except _Lost:
            raise errors.SlotTaken(
                "No table is free for that party right now", alternatives=[]
            ) from None
        return self._changed(seated, None)

    def _changed(self, view: ReservationView, before: ReservationView | None) -> ReservationView:
        for listener in self.listeners:
            try:
                listener(view, before)
            except Exception:
                _log.exception("change listener failed for reservation %s", view.code)
        return view


def _status_for(
    restaurant: Restaurant, asked: Status, guest: GuestView | None, actor: Actor
) -> Status:
    """Guests past the restaurant's no-show limit book as ``pending``: staff approve
    (confirm) or decline them. Staff booking for the guest have decided already."""
    limit = restaurant.rules.no_show_approval_after
    if actor.is_staff or limit is None or guest is None or guest.no_show_count < limit:
        return asked
    return Status.PENDING


_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def _retrying(write: Callable[[], _T]) -> _T:
    """Run a write transaction again when PostgreSQL aborted it to break a deadlock
    or a serialization conflict; such a transaction changed nothing."""
    for attempt in range(3):
        try:
            return write()
        except DBAPIError as exc:
            if attempt == 2 or getattr(exc.orig, "sqlstate", None) not in _TRANSIENT_SQLSTATES:
                raise
    raise AssertionError("unreachable")


class _Lost(Exception):
    """Every candidate seating was taken by racing bookings (or pacing filled up)."""
