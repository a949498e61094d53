"""Real-time fan-out: each API process tails the event stream and pushes one
restaurant's changes to its WebSocket and SSE subscribers.

* :mod:`~saveit.realtime.sources` — where events come from (Redis stream tail,
  the in-process bus, or the outbox table when Redis is away) and why a tail.
* :mod:`~saveit.realtime.feed` — the thread that reads them and switches source.
* :mod:`~saveit.realtime.hub` — per-process fan-out to bounded subscriber queues.
* :mod:`~saveit.realtime.messages` — the wire messages, ``availability.changed``.
* :mod:`~saveit.realtime.backlog` — catch-up on reconnect (replay or snapshot).

:func:`build_hub` is the one place that picks the sources from the container,
so the composition stays in one spot and the app lifespan only starts and stops it.
"""

from __future__ import annotations

from saveit.bootstrap import Container
from saveit.domain.model import Restaurant
from saveit.events.redis_streams import RedisStreamsBus
from saveit.realtime.feed import Feed
from saveit.realtime.hub import LiveHub, RestaurantsById, Subscription
from saveit.realtime.messages import LiveMessage
from saveit.realtime.sources import BusTail, OutboxPoller, RedisTail, Source

__all__ = ["LiveHub", "LiveMessage", "Subscription", "build_hub"]


def build_hub(container: Container) -> LiveHub:
    settings = container.settings
    primary: Source
    if settings.redis_url is not None and isinstance(container.bus, RedisStreamsBus):
        primary = RedisTail(
            settings.redis_url.get_secret_value(),
            settings.events_stream,
            timeout_s=settings.redis_timeout_s,
        )
    else:
        primary = BusTail(container.bus)

    def load(restaurant_id: int) -> Restaurant:
        with container.booking.reading() as conn:
            return container.booking.cache.get_by_id(conn, restaurant_id)

    poller = OutboxPoller(container.engine)
    return LiveHub(
        lambda deliver: Feed(
            primary,
            poller,
            deliver,
            poll_interval_s=settings.realtime_db_poll_interval_s,
        ),
        RestaurantsById(load),
        queue_size=settings.realtime_queue_size,
    )
