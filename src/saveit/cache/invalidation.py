"""Keeping cached availability honest: who invalidates what, and when.

* In the process that made a change: right after the commit, through the
  booking service's listener hook
  (:meth:`~saveit.cache.availability.AvailabilityCache.after_commit`), so the next
  read there — and on every process sharing the Redis cache — is fresh.
* In every process: from the event stream (:class:`InvalidationFeed`). That is
  what catches the changes whose writer could not reach Redis at the time, and
  the embedded mode's other worker processes (which share no memory). It reuses
  the live feed's reader (:mod:`saveit.realtime.feed`): a per-process ``XREAD``
  tail of the events stream — not a consumer group, since *every* process must
  see *every* event — that falls back to polling the outbox while Redis is away.
  Without Redis it polls the outbox.

Invalidation is idempotent and cheap (a ``DEL`` and an ``INCR`` per day), so
hearing about one change from both paths costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import redis

from saveit.booking.service import BookingService
from saveit.cache.availability import AvailabilityCache
from saveit.cache.store import NearCache
from saveit.config import Settings
from saveit.domain.events import Event
from saveit.domain.model import Restaurant
from saveit.events.doorbell import caught_up_key
from saveit.realtime.feed import Feed
from saveit.realtime.hub import RestaurantsById
from saveit.realtime.messages import affected_days
from saveit.realtime.sources import OutboxPoller, RedisTail, Source
from saveit.store.unit_of_work import Database, DatabaseLike

log = logging.getLogger(__name__)


class Invalidator:
    def __init__(self, cache: AvailabilityCache, booking: BookingService) -> None:
        self.cache = cache
        self.booking = booking
        self.restaurants = RestaurantsById(self._load)

    def _load(self, restaurant_id: int) -> Restaurant:
        with self.booking.reading() as conn:
            return self.booking.cache.get_by_id(conn, restaurant_id)

    def on_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if not event.type.startswith("reservation."):
                continue
            restaurant = self.restaurants(event)
            if restaurant is not None:
                age = time.time() - event.created_at.timestamp()
                self.cache.invalidate_heard(
                    event.restaurant_id, affected_days(event, restaurant), age, _change_of(event)
                )


def _change_of(event: Event) -> tuple[str, int] | None:
    """The (code, version) a reservation event reports, if it is well formed."""
    shown = event.payload.get("reservation")
    if not isinstance(shown, Mapping):
        return None
    code, version = shown.get("code"), shown.get("version")
    if not isinstance(code, str) or not isinstance(version, int):
        return None
    return code, version


TRUST_FOR_S = 1.5  # a read of the stream completes at least every 0.5 s while it works
CHECK_RELAY_EVERY_S = 0.5


class StreamWatch:
    """The invalidation feed's Redis tail, which also tells the near cache when this
    process hears every invalidation (:meth:`saveit.cache.store.NearCache.trust`):
    a read of the stream has just succeeded and the relay's caught-up mark is
    present (:mod:`saveit.events.doorbell`). Reads failing, or the mark lapsing
    (the worker stopped, or fell behind), withdraw the trust within
    ``TRUST_FOR_S``; near copies then live ``availability_local_ttl_s`` again."""

    name = RedisTail.name

    def __init__(
        self,
        tail: RedisTail,
        near: NearCache,
        url: str,
        stream: str,
        *,
        timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tail = tail
        self.near = near
        self.key = caught_up_key(stream)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=min(timeout_s, 0.5)
        )
        self._clock = clock
        self._checked = -CHECK_RELAY_EVERY_S
        self._relay_caught_up = False

    def connect(self) -> None:
        self.tail.connect()

    def read(self, block_ms: int) -> list[Event]:
        events = self.tail.read(block_ms)  # raises while Redis is away: no renewal then
        now = self._clock()
        if now - self._checked >= CHECK_RELAY_EVERY_S:
            self._checked = now
            try:
                self._relay_caught_up = bool(self._redis.exists(self.key))
            except redis.RedisError:
                self._relay_caught_up = False
        if self._relay_caught_up:
            self.near.trust(TRUST_FOR_S)
        else:
            self.near.distrust()
        return events

    def close(self) -> None:
        self.tail.close()
        self._redis.close()


class InvalidationFeed:
    """One thread per API process feeding :meth:`Invalidator.on_events`."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.feed.run, args=(self._stop,), name="saveit-cache-feed", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def build_feed(
    settings: Settings,
    invalidator: Invalidator,
    database: Database | DatabaseLike | None = None,
) -> InvalidationFeed:
    primary: Source | None = None
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
        tail = RedisTail(url, settings.events_stream, timeout_s=settings.redis_timeout_s)
        primary = tail
        near = invalidator.cache.store
        if isinstance(near, NearCache) and settings.availability_local_follows_events:
            primary = StreamWatch(
                tail, near, url, settings.events_stream, timeout_s=settings.redis_timeout_s
            )
    poller = OutboxPoller(database if database is not None else invalidator.booking.engine)
    return InvalidationFeed(
        Feed(
            primary,
            poller,
            invalidator.on_events,
            poll_interval_s=settings.realtime_db_poll_interval_s,
        )
    )


def start_invalidation(
    settings: Settings, cache: AvailabilityCache | None
) -> InvalidationFeed | None:
    """Start this process's invalidation feed (None when there is nothing to invalidate)."""
    if cache is None or cache.store is None:
        return None
    feed = build_feed(settings, Invalidator(cache, cache.booking))
    feed.start()
    return feed
