"""One hub per API process: the feed thread in, bounded per-subscriber queues out.

The feed thread turns events into serialised messages (restaurant lookups and
JSON happen there, off the event loop) and hands each batch to the loop with
``call_soon_threadsafe``; the fan-out itself is a ``put_nowait`` per subscriber
of that restaurant, so it never waits on a client. A subscriber whose queue is
full is dropped (its queue is emptied and closed with reason ``"slow"``): the
endpoint closes the connection with a code saying so, the client reconnects
with the last position it saw and catches up from the outbox. One slow
dashboard therefore costs only itself a resync, never the others a delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from saveit.domain.events import Event
from saveit.domain.model import Restaurant
from saveit.realtime.feed import Feed
from saveit.realtime.messages import LiveMessage, event_messages

log = logging.getLogger(__name__)

SLOW = "slow"
SHUTDOWN = "shutdown"


class Subscription:
    """One connected client's queue. ``None`` on the queue means "closed": see ``reason``."""

    def __init__(self, restaurant_id: int, maxsize: int) -> None:
        self.restaurant_id = restaurant_id
        self.queue: asyncio.Queue[LiveMessage | None] = asyncio.Queue(maxsize=maxsize + 1)
        self.maxsize = maxsize
        self.reason: str | None = None

    def offer(self, message: LiveMessage) -> None:
        if self.reason is not None:
            return
        if self.queue.qsize() >= self.maxsize:
            self.close(SLOW)
            return
        self.queue.put_nowait(message)

    def close(self, reason: str) -> None:
        if self.reason is not None:
            return
        self.reason = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def next(self) -> LiveMessage | None:
        return await self.queue.get()


class RestaurantsById:
    """Restaurant configuration by id for the feed thread, kept ``ttl_s`` seconds:
    deriving availability days needs the time zone and service hours per event."""

    def __init__(self, load: Callable[[int], Restaurant], ttl_s: float = 30.0) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._entries: dict[int, tuple[float, Restaurant | None]] = {}

    def __call__(self, event: Event) -> Restaurant | None:
        now = time.monotonic()
        cached = self._entries.get(event.restaurant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            restaurant: Restaurant | None = self._load(event.restaurant_id)
        except Exception:
            log.warning("live feed: restaurant %s not loadable", event.restaurant_id, exc_info=True)
            restaurant = None
        self._entries[event.restaurant_id] = (now + self._ttl_s, restaurant)
        return restaurant


class LiveHub:
    def __init__(
        self,
        make_feed: Callable[[Callable[[list[Event]], None]], Feed],
        restaurants: RestaurantsById,
        *,
        queue_size: int = 256,
    ) -> None:
        self.feed = make_feed(self._publish)
        self.restaurants = restaurants
        self.queue_size = queue_size
        self._subs: dict[int, set[Subscription]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    @property
    def mode(self) -> str:
        """Which path live events take now: ``redis``, ``bus`` or ``database``."""
        return self.feed.mode

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self.feed.run, args=(self._stop,), name="saveit-live-feed", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
        for subs in self._subs.values():
            for sub in subs:
                sub.close(SHUTDOWN)
        self._subs.clear()

    def subscribe(self, restaurant_id: int) -> Subscription:
        """Call on the event loop; live messages queue up from this moment on."""
        sub = Subscription(restaurant_id, self.queue_size)
        self._subs[restaurant_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.restaurant_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.restaurant_id]

    def subscribers(self) -> int:
        return sum(len(s) for s in self._subs.values())

    # --- feed thread -> loop --------------------------------------------------------------

    def _publish(self, events: list[Event]) -> None:
        # Only restaurants someone watches here: rendering every event of every
        # restaurant for nobody cost each API process a share of every booking.
        # A subscriber that arrives meanwhile is not missing anything: it read the
        # outbox head after subscribing, and its catch-up replays up to there.
        watched = [e for e in events if self._subs.get(e.restaurant_id)]
        messages = [m for event in watched for m in event_messages(event, self.restaurants)]
        if messages and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed since the check
                self._loop.call_soon_threadsafe(self._fan_out, messages)

    def _fan_out(self, messages: list[LiveMessage]) -> None:
        for message in messages:
            for sub in list(self._subs.get(message.restaurant_id, ())):
                sub.offer(message)
                if sub.reason == SLOW:
                    self.unsubscribe(sub)
                    log.info("live: dropped a slow subscriber of restaurant %s", sub.restaurant_id)
        self.delivered += len(messages)
