"""The composition root: settings in, a wired application container out.

The only place that decides which adapters run (SQLite or PostgreSQL today;
Redis and channel providers join here). Nothing below it asks what mode it is in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from saveit.booking.service import BookingService, Clock, utc_now
from saveit.config import Settings
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade


@dataclass
class Container:
    settings: Settings
    engine: Engine
    booking: BookingService

    def close(self) -> None:
        self.engine.dispose()


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
    return Container(settings=settings, engine=engine, booking=booking)
