"""Real-time fan-out: each API process tails the event stream and pushes one
restaurant's changes to its WebSocket and SSE subscribers.

* :mod:`~saveit.realtime.sources` — where events come from (Redis stream tail,
  the in-process bus, or the outbox table when Redis is away) and why a tail.
* :mod:`~saveit.realtime.feed` — the thread that reads them and switches source.
* :mod:`~saveit.realtime.hub` — per-process fan-out to bounded subscriber queues.
* :mod:`~saveit.realtime.messages` — the wire messages, ``availability.changed``.
* :mod:`~saveit.realtime.backlog` — catch-up on reconnect (replay or snapshot).

:func:`build_hub` is the one place that picks the sources from the settings and
the bus; the process's runtime (:mod:`saveit.runtime`) hands them in, and starts
and stops the hub.
"""

from __future__ import annotations

from collections.abc import Callable

from saveit.config import Settings
from saveit.domain.model import Restaurant
from saveit.events.bus import Bus
from saveit.events.redis_streams import RedisStreamsBus
from saveit.realtime.feed import Feed
from saveit.realtime.hub import LiveHub, RestaurantsById, Subscription
from saveit.realtime.messages import LiveMessage
from saveit.realtime.sources import BusTail, OutboxPoller, RedisTail, Source

__all__ = ["LiveHub", "LiveMessage", "Subscription", "build_hub"]


def build_hub(
    settings: Settings,
    bus: Bus,
    *,
    outbox: OutboxPoller,
    restaurant: Callable[[int], Restaurant],
) -> LiveHub:
    """``outbox`` is the fallback source while Redis is away; ``restaurant`` loads
    one restaurant's configuration by id (the feed derives availability days)."""
    primary: Source
    if settings.redis_url is not None and isinstance(bus, RedisStreamsBus):
        primary = RedisTail(
            settings.redis_url.get_secret_value(),
            settings.events_stream,
            timeout_s=settings.redis_timeout_s,
        )
    else:
        primary = BusTail(bus)
    return LiveHub(
        lambda deliver: Feed(
            primary,
            outbox,
            deliver,
            poll_interval_s=settings.realtime_db_poll_interval_s,
        ),
        RestaurantsById(restaurant),
        queue_size=settings.realtime_queue_size,
    )
