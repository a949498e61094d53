"""Availability reads through a cache; a booking never reads it.

What is cached is the rendered answer of ``GET /v1/restaurants/{slug}/availability``
for one (restaurant, config_version, service day, party size, area, staff or
public), together with each start's UTC instant. Two things make a cached
answer go stale, and each has its remedy:

* **Writes** (bookings, moves, cancellations, status changes) — the bucket of
  every affected service day is invalidated right after the commit in the
  writing process, and by every process when the event arrives on the stream
  (:mod:`saveit.cache.invalidation`). The TTL (30 s) bounds anything missed.
* **Time** — lead time excludes starts as the clock moves, so on every read the
  starts are filtered again by ``now`` (and an answer computed on another local
  day is not used at all, since the booking horizon moved).

Config edits change ``config_version``, which is part of the key. Each process
trusts its copy of the configuration for ``config_recheck_s`` (see
``RestaurantCache``: the hot path then costs no database query) and forgets it
at once when it makes an edit itself.

A guest's miss computes more than it was asked: every party size of the day
(they share one read of the day's bookings) and, with the same read, the days of
the day's week not cached yet (:mod:`saveit.cache.week`), each under its own
generation guard.

When the store is unreachable (Redis down, breaker open) the read goes to the
database, exactly as without a cache.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import date
from typing import NamedTuple

from saveit.booking.service import BookingService
from saveit.cache.entry import DayRenderer, Entry, EntryReader, render_entry
from saveit.cache.flights import FlightKey, Flights
from saveit.cache.occupancy import HeldOccupancies
from saveit.cache.stats import CacheStats
from saveit.cache.store import CacheStore, MemoryStore, NearCache
from saveit.cache.week import week_of
from saveit.domain import errors
from saveit.domain.availability import (
    Occupancy,
    bookable_starts,
    bookable_starts_by_size,
)
from saveit.domain.model import Restaurant
from saveit.domain.schedule import day_of
from saveit.domain.views import ReservationView
from saveit.observe import metrics
from saveit.resilience.breaker import BreakerState
from saveit.resilience.redis_gate import RedisUnavailable

log = logging.getLogger(__name__)

HIT, MISS, BYPASS = "hit", "miss", "bypass"
STREAM_GRACE_S = 1.0  # an event heard later than this may have missed its writer's invalidation
TROUBLE_WINDOW_S = 60.0  # Redis trouble this recent: invalidate Redis again from the stream
PRESIZED_MAX = 12  # a miss fills the day's party sizes up to this (and the online limit)


class Pending(NamedTuple):
    """A change whose Redis invalidation waits for :meth:`AvailabilityCache.aflush`."""

    buckets: list[str]
    reported: tuple[str, int]  # (code, version), as its event will report it


_PENDING: ContextVar[list[Pending] | None] = ContextVar("saveit_cache_pending", default=None)


def _key(config_version: int, party_size: int, area: str | None, staff: bool) -> str:
    return f"{config_version}:{party_size}:{area or ''}:{'s' if staff else 'p'}"


def bucket_of(restaurant_id: int, day: date) -> str:
    return f"{restaurant_id}:{day.isoformat()}"


class AvailabilityCache:
    def __init__(
        self,
        booking: BookingService,
        store: CacheStore | None,
        *,
        ttl_s: float = 30.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.booking = booking
        self.store = store
        self.ttl_s = ttl_s
        self.stats = CacheStats()
        self._wall = wall_clock
        self._deferred: set[str] = set()
        self._deferred_lock = threading.Lock()
        self._held = HeldOccupancies()
        self._flights = Flights()
        self._own: set[tuple[str, int]] = set()  # changes written and invalidated here
        self._own_lock = threading.Lock()
        self._reader = EntryReader(ttl_s=ttl_s, wall=wall_clock, clock=booking.clock)

    # --- reads ------------------------------------------------------------------------

    def read(
        self, slug: str, day: date, party_size: int, *, area: str | None, staff: bool
    ) -> tuple[bytes, str]:
        """The availability document as JSON bytes, and how it was served (hit, miss
        or bypass). Bytes, because a hit whose starts all lie beyond the lead time is
        sent exactly as stored, without parsing or serialising the document again."""
        if self.store is None:
            metrics.cache_bypass.inc()
            return self._reader.render(self._compute(slug, day, party_size, area, staff)), BYPASS
        restaurant, config_version = self.booking.restaurant_version(slug)
        bucket = bucket_of(restaurant.id, day)
        key = _key(config_version, party_size, area, staff)
        try:
            self._flush_deferred()
            raw, generation = self.store.get(bucket, key)
        except RedisUnavailable:
            self.stats.bypassed += 1
            metrics.cache_bypass.inc()
            return self._reader.render(self._compute(slug, day, party_size, area, staff)), BYPASS
        if raw is not None:
            entry = self._reader.usable(raw)
            if entry is not None:
                self.stats.hits += 1
                metrics.cache_hit.inc()
                return self._reader.render(entry), HIT
        self.stats.misses += 1
        metrics.cache_miss.inc()
        if staff or area is not None:
            fills = self._fill(
                slug, restaurant.id, config_version, [(day, generation)], party_size, area, staff
            )
            return self._reader.render(fills[0][0][1]), MISS
        # A guest's read: computed once in this process however many miss it at once
        # (saveit.cache.flights), with the days of its week nobody has cached yet.
        flight, leading = self._flights.follow((bucket, config_version, generation))
        if not leading:
            self.stats.coalesced += 1
            computed = flight.wait()
            if computed is not None and party_size in computed:
                return self._reader.render(computed[party_size]), MISS
            fills = self._fill(
                slug, restaurant.id, config_version, [(day, generation)], party_size, None, False
            )
            return self._reader.render(fills[0][0][1]), MISS
        led = {(bucket, config_version, generation): flight}
        results: dict[FlightKey, dict[int, Entry]] = {}
        try:
            week = [
                ((bucket_of(restaurant.id, d), config_version, g), d, g)
                for d, g in self._week_to_fill(restaurant, day, key)
            ]
            claimed = self._flights.claim(k for k, _, _ in week)
            led |= claimed
            days = [(day, generation), *((d, g) for k, d, g in week if k in claimed)]
            fills = self._fill(slug, restaurant.id, config_version, days, party_size, None, False)
            for (d, g), made in zip(days, fills, strict=True):
                key_of_day = (bucket_of(restaurant.id, d), config_version, g)
                results[key_of_day] = {size: entry for size, entry, _ in made}
        finally:
            self._flights.land(led, results)
        return self._reader.render(fills[0][0][1]), MISS

    def _fill(
        self,
        slug: str,
        restaurant_id: int,
        config_version: int,
        days: list[tuple[date, str]],
        party_size: int,
        area: str | None,
        staff: bool,
    ) -> list[list[tuple[int, Entry, bytes]]]:
        """Compute these (day, generation) pairs and store them, each under its
        generation's guard; the entries, as ``_compute_days`` returns them."""
        assert self.store is not None
        fills = self._compute_days(slug, days, party_size, area, staff, config_version)
        puts = [
            (
                bucket_of(restaurant_id, d),
                [(_key(config_version, s, area, staff), raw) for s, _, raw in entries],
                g,
            )
            for (d, g), entries in zip(days, fills, strict=True)
        ]
        try:
            stored = self.store.put_many(puts, self.ttl_s)
            self.stats.stored += sum(stored)
            self.stats.refused += len(stored) - sum(stored)
        except RedisUnavailable:
            pass
        return fills

    def _week_to_fill(self, restaurant: Restaurant, day: date, key: str) -> list[tuple[date, str]]:
        """The other days of ``day``'s week (:mod:`saveit.cache.week`) not cached yet,
        each with the generation read before its bookings are."""
        assert self.store is not None
        today = self.booking.clock().astimezone(restaurant.tz).date()
        others = week_of(day, today, restaurant.rules.max_days_ahead)[1:]
        if not others:
            return []
        try:
            held = self.store.get_many([bucket_of(restaurant.id, d) for d in others], key)
        except RedisUnavailable:
            return []
        return [(d, gen) for d, (raw, gen) in zip(others, held, strict=True) if raw is None]

    def peek(
        self, slug: str, day: date, party_size: int, *, area: str | None, staff: bool
    ) -> bytes | None:
        """A hit from this process's memory alone, or None: no Redis, no database,
        nothing that blocks. The endpoint answers these on the event loop and
        sends everything else (misses, Redis hits) to :meth:`read` on a thread."""
        found = self._hot_key(slug, day, party_size, area, staff)
        if found is None:
            return None
        store, bucket, key = found
        local = store.local if isinstance(store, NearCache) else store
        max_age = store.local_max_age() if isinstance(store, NearCache) else None
        raw, _ = local.get(bucket, key, max_age_s=max_age)
        return None if raw is None else self._hit(raw)

    async def apeek_shared(self, slug: str, day: date, party_size: int) -> bytes | None:
        """A guest's hit that only Redis holds, read on the event loop with an asyncio
        client: a platform's many restaurants are mostly such reads the first time a
        process is asked for them, and on a thread, behind routing, each cost
        several local hits. None for anything else, and when Redis fails (the
        routed endpoint then decides, through the breaker, as for any read)."""
        found = self._hot_key(slug, day, party_size, None, False)
        if found is None:
            return None
        store, bucket, key = found
        if not isinstance(store, NearCache):
            return None
        try:
            raw = await store.aget_shared(bucket, key)
        except RedisUnavailable:
            return None
        return None if raw is None else self._hit(raw)

    def _hot_key(
        self, slug: str, day: date, party_size: int, area: str | None, staff: bool
    ) -> tuple[MemoryStore | NearCache, str, str] | None:
        """Where a read that needs neither the database nor a thread would look."""
        store = self.store
        if not isinstance(store, MemoryStore | NearCache) or self._deferred:
            return None
        if isinstance(store, NearCache) and store.shared.gate.breaker.state is BreakerState.OPEN:
            return None  # Redis away: read() bypasses the cache tiers altogether
        trusted = self.booking.cache.trusted(slug)
        if trusted is None:
            return None
        restaurant, config_version = trusted
        return store, bucket_of(restaurant.id, day), _key(config_version, party_size, area, staff)

    def _hit(self, raw: bytes) -> bytes | None:
        entry = self._reader.usable(raw)
        if entry is None:
            return None
        self.stats.hits += 1
        metrics.cache_hit.inc()
        return self._reader.render(entry)

    async def aopen(self) -> None:
        """Connect the event loop's Redis client now (a ``PING``), as the process
        starts: the first booking's invalidation from the loop (:meth:`aflush`)
        must not also pay for a connection, nor fail on one under load and leave
        the day to the event stream. Redis being away here is not an error."""
        if isinstance(self.store, NearCache):
            with contextlib.suppress(RedisUnavailable):
                await self.store.shared.gate.arun(lambda client: client.ping())

    async def aclose(self) -> None:
        """Close what :meth:`apeek_shared` opened on the event loop."""
        if isinstance(self.store, NearCache):
            await self.store.shared.gate.aclose()

    def _compute(
        self, slug: str, day: date, party_size: int, area: str | None, staff: bool
    ) -> Entry:
        """Straight from the database, with no cache generation to trust."""
        restaurant, slots = self.booking.availability(slug, day, party_size, area=area, staff=staff)
        today = self.booking.clock().astimezone(restaurant.tz).date()
        return render_entry(restaurant, day, party_size, staff, slots, self._wall(), today)

    def _compute_days(
        self,
        slug: str,
        days: list[tuple[date, str]],
        party_size: int,
        area: str | None,
        staff: bool,
        config_version: int,
    ) -> list[list[tuple[int, Entry, bytes]]]:
        """For each (day, generation), the entries to store: the size asked for first
        and, for a guest's read with no area, the day's other party sizes up to the
        online limit (``PRESIZED_MAX`` at most) — a day is asked for in several
        sizes, and its bookings are read once for all of them (and for every day
        of ``days`` at once).

        Each day's generation is the one its bucket had before the bookings were
        read, which lets them be reused while it holds (see ``_occupancy``)."""
        if not 1 <= party_size <= 1000:
            raise errors.ValidationFailed("party_size must be between 1 and 1000")
        held = [f"{config_version}/{generation}" for _, generation in days]
        if len(days) == 1:
            restaurant, occupancy = self._occupancy(slug, days[0][0], held[0])
        else:
            restaurant, occupancy = self.booking.days_occupancy(slug, [d for d, _ in days])
            self._held.hold(slug, [d for d, _ in days], held, restaurant, occupancy)
        sizes = [party_size]
        if not staff and area is None and party_size <= restaurant.rules.max_party_size:
            limit = min(restaurant.rules.max_party_size, PRESIZED_MAX)
            sizes += [s for s in range(1, limit + 1) if s != party_size]
        now = self.booking.clock()
        at, today = self._wall(), now.astimezone(restaurant.tz).date()
        filled = []
        for day, _ in days:
            if area is None:
                by_size = bookable_starts_by_size(
                    restaurant, day, sizes, now, occupancy, staff=staff
                )
            else:  # the area orders the seatings: only the size asked for
                by_size = {
                    party_size: bookable_starts(
                        restaurant, day, party_size, now, occupancy, area=area, staff=staff
                    )
                }
            renderer = DayRenderer(restaurant, day, staff=staff, at=at, today=today)
            filled.append([(s, *renderer.entry(s, by_size[s])) for s in by_size])
        return filled

    def _occupancy(self, slug: str, day: date, generation: str) -> tuple[Restaurant, Occupancy]:
        """The day's bookings, read once per cache generation of the day (see
        :mod:`saveit.cache.occupancy`)."""
        held = self._held.get(slug, day, generation)
        if held is not None:
            return held
        restaurant, occupancy = self.booking.day_occupancy(slug, day)
        self._held.hold(slug, [day], [generation], restaurant, occupancy)
        return restaurant, occupancy

    def recent_occupancy(self, slug: str, day: date) -> Occupancy | None:
        """The day's bookings as a miss here just read them, for suggesting
        alternatives (the booking service's ``day_hint``)."""
        return self._held.recent(slug, day)

    # --- invalidation -----------------------------------------------------------------

    def after_commit(self, view: ReservationView, before: ReservationView | None) -> None:
        """The booking service's listener: the booking's service day and, on a move,
        the old one, invalidated in this process right after the commit — or, inside
        :meth:`deferring`, in this process's memory now and in Redis by
        :meth:`aflush`, before the response leaves."""
        restaurant = self.booking.cache.cached(view.restaurant) or self.booking.restaurant(
            view.restaurant
        )
        days = {day_of(restaurant, v.start) for v in (view, before) if v is not None}
        pending = _PENDING.get()
        if pending is not None and isinstance(self.store, NearCache):
            self._held.changed(view.restaurant_id, days)
            buckets = sorted({bucket_of(view.restaurant_id, d) for d in days})
            self.store.invalidate_local(buckets)
            pending.append(Pending(buckets, (view.code, view.version)))
            return
        if self.invalidate(view.restaurant_id, days):
            self._remember_own((view.code, view.version))

    @contextlib.contextmanager
    def deferring(self) -> Iterator[list[Pending]]:
        """Within this block (and the threads it starts work on), a change's Redis
        invalidation is left to :meth:`aflush`, on the event loop.

        Why: a booking's request thread is the scarce thing under load (each
        holds one of ``request_threads`` for its whole call), and the Redis round
        trip after its commit was one of the six it waited for, each also waiting
        for the interpreter on a busy process. On the event loop the round trip
        costs no thread. The caller must await :meth:`aflush` before it answers,
        so that whoever reads after the answer reads past the change."""
        pending: list[Pending] = []
        token = _PENDING.set(pending)
        try:
            yield pending
        finally:
            _PENDING.reset(token)

    async def aflush(self, pending: Sequence[Pending]) -> None:
        """The Redis invalidations :meth:`deferring` left, from the event loop; those
        Redis cannot take now are queued, as :meth:`invalidate` queues them."""
        store = self.store
        if not pending or not isinstance(store, NearCache):
            return
        for change in pending:
            self.stats.invalidations += len(change.buckets)
            try:
                await store.ainvalidate(change.buckets)
            except RedisUnavailable:
                self._defer(change.buckets)
                continue
            self._remember_own(change.reported)

    def _remember_own(self, change: tuple[str, int]) -> None:
        """A change whose every tier this process invalidated (``invalidate_heard``)."""
        with self._own_lock:
            if len(self._own) > 10_000:
                self._own.clear()
            self._own.add(change)

    def invalidate(self, restaurant_id: int, days: Iterable[date]) -> bool:
        """Forget these service days; queued for later when the store is away.
        True when every tier forgot them now."""
        days = set(days)
        self._held.changed(restaurant_id, days)
        buckets = sorted({bucket_of(restaurant_id, d) for d in days})
        if self.store is None or not buckets:
            return self.store is not None
        self.stats.invalidations += len(buckets)
        try:
            self.store.invalidate(buckets)
        except RedisUnavailable:
            self._defer(buckets)
            return False
        return True

    def _defer(self, buckets: Iterable[str]) -> None:
        """Queue invalidations Redis could not take; the next read replays them."""
        buckets = list(buckets)
        with self._deferred_lock:
            self._deferred.update(buckets)
        self.stats.deferred += len(buckets)

    def invalidate_heard(
        self,
        restaurant_id: int,
        days: Iterable[date],
        age_s: float,
        change: tuple[str, int] | None = None,
    ) -> None:
        """An invalidation heard on the event stream, in every process.

        The writer already invalidated Redis right after its commit, so in the
        normal case only this process's near-cache copies need dropping: doing
        Redis again from every process cost more than the bookings themselves.
        Redis is invalidated here as well when the writer may have missed it —
        the event is late (published after an outage) or Redis failed this
        process recently.

        ``change`` is the (code, version) the event reports. When this process
        wrote it and invalidated every tier right after the commit, there is
        nothing left to drop: whatever was cached since was computed after that
        commit (the generation guard), and dropping it again only made each
        party size of the day miss a second time in the writing process.
        """
        days = set(days)
        store = self.store
        late = age_s > STREAM_GRACE_S or (
            isinstance(store, NearCache) and store.shared.gate.troubled_within(TROUBLE_WINDOW_S)
        )
        if change is not None and not late:
            with self._own_lock:
                own = change in self._own
                self._own.discard(change)
            if own:
                return
        if isinstance(store, NearCache) and not late:
            self._held.changed(restaurant_id, days)
            buckets = sorted({bucket_of(restaurant_id, d) for d in days})
            store.invalidate_local(buckets)
            self.stats.invalidations += len(buckets)
            return
        self.invalidate(restaurant_id, days)

    def _flush_deferred(self) -> None:
        """Replay invalidations made while Redis was away, before trusting it again.
        (Other processes get them from the event stream once the relay catches up.)"""
        if not self._deferred:
            return
        assert self.store is not None
        with self._deferred_lock:
            pending, self._deferred = sorted(self._deferred), set()
        try:
            self.store.invalidate(pending)
        except RedisUnavailable:
            with self._deferred_lock:
                self._deferred.update(pending)
            raise
        log.info("availability cache: replayed %d deferred invalidations", len(pending))
