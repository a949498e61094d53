"""The event bus and what rides on Redis: the outbox relay, the live feed's
tail, the availability cache, and the circuit breaker for when Redis is away."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator


class EventSettings(BaseModel):
    """The bus, relay, live-feed and cache knobs of :class:`saveit.config.Settings`."""

    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:port/db for the event bus; unset means in-process.",
    )
    redis_timeout_s: float = Field(default=1.0, gt=0, le=30)
    events_stream: str = Field(default="saveit:events", min_length=1)
    events_maxlen: int = Field(default=100_000, ge=1000)
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(
        default=0.05,
        gt=0,
        le=60,
        description="Outbox relay poll interval: what a lost doorbell ring costs. A commit "
        "that writes events wakes the relay at once (saveit.events.doorbell: p99 ~20 ms "
        "booking-to-subscriber in bench/realtime.py, ~70 ms when only this poll found them); "
        "the poll is 20 cheap index-only queries a second.",
    )
    consumers_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much `saveit worker` lowers the CPU priority (Unix nice, per "
        "thread, Linux) of its event consumers: guests' notifications and reminders, "
        "waitlist offers, the figures' counters. They follow a booking by moments anyway, "
        "while guests wait on the API; during a burst the API goes first and they catch up "
        "after (bench/booking.py: 55-56% of the ceiling against 47-53%). The outbox relay "
        "keeps its priority: live screens and cache invalidation ride on it. 0 keeps it equal.",
    )
    worker_group_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="The nice value `saveit worker` gives its own scheduling group (Linux "
        "autogroup) when it leads its session, as a systemd service or a process started "
        "with setsid does: the per-thread nice values above only order the worker's own "
        "threads, and without this the kernel shares the cores equally between the API's "
        "group and the worker's. The relay is in the worker's group: when the host is "
        "saturated, live screens wait for the API's burst too. Inside a container this "
        "does nothing; give the container CPU shares (deploy/compose.yaml). 0 keeps it "
        "equal.",
    )
    relay_in_process: bool | None = Field(
        default=None,
        description="Run the outbox relay inside the API process; unset means only "
        "when there is no Redis (the embedded default). Production runs `saveit worker`.",
    )
    realtime_db_poll_interval_s: float = Field(
        default=0.15,
        gt=0,
        le=10,
        description="Live feed: outbox poll interval while Redis is unreachable.",
    )
    realtime_queue_size: int = Field(
        default=256,
        ge=8,
        le=100_000,
        description="Live feed: messages buffered per subscriber before it is dropped as slow.",
    )
    redis_prefix: str = Field(
        default="saveit",
        min_length=1,
        description="Key prefix for the availability cache and rate-limit keys in Redis.",
    )
    redis_op_timeout_s: float = Field(
        default=0.25,
        gt=0,
        le=5,
        description="Socket timeout of the cache/rate-limit Redis client: the most a request "
        "pays for a Redis that hangs before the circuit breaker opens.",
    )
    redis_breaker_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive Redis failures that open the circuit breaker (Redis skipped).",
    )
    redis_breaker_reset_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds the breaker stays open before one trial call (half-open).",
    )
    availability_cache: bool = Field(
        default=True, description="Serve availability reads from a cache (Redis or in-process)."
    )
    availability_cache_ttl_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Availability cache entry lifetime; invalidation by events is the "
        "normal path, the TTL bounds anything it misses.",
    )
    availability_local_ttl_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="With Redis: keep a copy of hot entries in process memory this long "
        "(0: off). Invalidated with Redis and by the event stream; the TTL bounds staleness "
        "if events stall.",
    )
    availability_local_follows_events: bool = Field(
        default=True,
        description="With Redis: while this process hears the event stream and the relay "
        "reports itself caught up, keep near copies as long as their entries "
        "(availability_cache_ttl_s); availability_local_ttl_s applies only otherwise.",
    )

    @field_validator("redis_url", mode="before")
    @classmethod
    def _blank_redis_is_none(cls, value: object) -> object:
        return value or None

    @property
    def runs_relay_in_process(self) -> bool:
        return self.redis_url is None if self.relay_in_process is None else self.relay_in_process
