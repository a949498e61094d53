"""The composition root: settings in, a wired application container out.

The only place that decides which adapters run: SQLite or PostgreSQL, the
in-process bus or Redis Streams (channel providers join here). Nothing below it
asks what mode it is in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from saveit.booking.service import BookingService, Clock, utc_now
from saveit.config import Settings
from saveit.events.bus import Bus
from saveit.events.inprocess import InProcessBus
from saveit.events.redis_streams import RedisStreamsBus
from saveit.events.relay import OutboxRelay
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade


@dataclass
class Container:
    settings: Settings
    engine: Engine
    booking: BookingService
    bus: Bus
    relay: OutboxRelay

    def close(self) -> None:
        self.bus.close()
        self.engine.dispose()


def build_bus(settings: Settings) -> Bus:
    if settings.redis_url is None:
        return InProcessBus(maxlen=settings.events_maxlen)
    return RedisStreamsBus(
        settings.redis_url.get_secret_value(),
        stream=settings.events_stream,
        maxlen=settings.events_maxlen,
        socket_timeout_s=settings.redis_timeout_s,
        connect_timeout_s=min(settings.redis_timeout_s, 0.5),
    )


def build(settings: Settings, *, clock: Clock = utc_now, migrate: bool | None = None) -> Container:
    """Wire the app. ``migrate`` defaults to True on the embedded SQLite default,
    where nobody else would run ``saveit db upgrade``."""
    engine = create_db_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
    )
    if migrate if migrate is not None else settings.database_url is None:
        upgrade(engine)
    booking = BookingService(
        engine,
        secret=settings.secret_key.get_secret_value().encode(),
        clock=clock,
        phone_region=settings.default_phone_region,
    )
    bus = build_bus(settings)
    relay = OutboxRelay(
        engine,
        bus,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        clock=clock,
    )
    return Container(settings=settings, engine=engine, booking=booking, bus=bus, relay=relay)
