"""The adapters settings choose: the bus (in process or Redis Streams), the
request-path Redis behind its breaker, the read replica, and the keys that
seal provider secrets."""

from __future__ import annotations

from sqlalchemy import Engine

from saveit.config import Settings
from saveit.events.bus import Bus
from saveit.events.inprocess import InProcessBus
from saveit.events.redis_streams import RedisStreamsBus
from saveit.resilience import CircuitBreaker, RedisGate
from saveit.store.database import create_db_engine
from saveit.store.replica import ReplicaReads
from saveit.store.secret_box import SecretBox


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


def build_replica(settings: Settings, primary: Engine) -> ReplicaReads | None:
    """Lag-tolerant reads on SAVEIT_DATABASE_REPLICA_URL; None without one."""
    url = settings.resolved_replica_url
    if url is None:
        return None
    replica = create_db_engine(
        url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
        connect_timeout=settings.db_connect_timeout_s,
        pre_ping=True,
    )
    return ReplicaReads(
        primary,
        replica,
        max_lag_s=settings.replica_max_lag_s,
        check_interval_s=settings.replica_check_interval_s,
    )


def build_secret_box(settings: Settings) -> SecretBox:
    """The keys that seal provider secrets: SAVEIT_ENCRYPTION_KEYS, else one derived
    from SAVEIT_SECRET_KEY."""
    return SecretBox.from_keys(
        [key.get_secret_value() for key in settings.encryption_keys],
        secret_key=settings.secret_key.get_secret_value(),
    )


def build_redis_gate(settings: Settings) -> RedisGate | None:
    if settings.redis_url is None:
        return None
    breaker = CircuitBreaker(
        "redis",
        failure_threshold=settings.redis_breaker_failures,
        reset_timeout_s=settings.redis_breaker_reset_s,
    )
    return RedisGate(
        settings.redis_url.get_secret_value(),
        breaker=breaker,
        timeout_s=settings.redis_op_timeout_s,
    )
