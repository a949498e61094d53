"""The composition root: settings in, a wired application container out.

The only place that decides which adapters run: SQLite or PostgreSQL, the
in-process bus or Redis Streams (channel providers join here). Nothing below it
asks what mode it is in.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from saveit.analytics.service import Analytics
from saveit.analytics.survey import Surveys
from saveit.analytics.survey_chat import SurveyChat
from saveit.booking.service import BookingService, Clock, utc_now
from saveit.cache import AvailabilityCache, CacheStore, MemoryStore, NearCache, RedisStore
from saveit.channels.account_proof import AccountProofs, GraphOwnership
from saveit.channels.gateway import Gateway, Responder
from saveit.channels.identity import IdentityLinks
from saveit.channels.inbox import InboxResponder
from saveit.channels.registry import build_senders
from saveit.channels.verification import BookingVerification
from saveit.checkin import CheckIn, Keyring
from saveit.checkin.qr import png as qr_png
from saveit.config import Environment, Settings
from saveit.conversation.bot import BotResponder
from saveit.events.bus import Bus
from saveit.events.inprocess import InProcessBus
from saveit.events.redis_streams import RedisStreamsBus
from saveit.events.relay import OutboxRelay
from saveit.notify import Notifier, QrCodes, Scheduler
from saveit.observe import metrics, tracing
from saveit.observe.database import time_transactions
from saveit.privacy import GuestPrivacy
from saveit.ratelimit import RateLimiter
from saveit.ratelimit.abuse import AbuseLimits
from saveit.resilience import CircuitBreaker, RedisGate
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.partitions import PartitionKeeper
from saveit.store.replica import ReplicaReads
from saveit.store.restaurants import RestaurantCache
from saveit.store.secret_box import SecretBox
from saveit.store.tenancy import bypasses_row_security
from saveit.waitlist.service import Waitlist

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    booking: BookingService
    bus: Bus
    relay: OutboxRelay
    # Request-path Redis (cache, rate limits) behind a circuit breaker; None without Redis.
    redis_gate: RedisGate | None = field(default=None, kw_only=True)
    availability: AvailabilityCache | None = field(default=None, kw_only=True)
    limiter: RateLimiter | None = field(default=None, kw_only=True)
    gateway: Gateway | None = field(default=None, kw_only=True)
    links: IdentityLinks | None = field(default=None, kw_only=True)
    checkin: CheckIn | None = field(default=None, kw_only=True)
    notifier: Notifier | None = field(default=None, kw_only=True)
    scheduler: Scheduler | None = field(default=None, kw_only=True)
    # security: channel accounts proven before they route; provider secrets sealed at rest
    box: SecretBox | None = field(default=None, kw_only=True)
    proofs: AccountProofs | None = field(default=None, kw_only=True)
    privacy: GuestPrivacy | None = field(default=None, kw_only=True)
    abuse: AbuseLimits | None = field(default=None, kw_only=True)
    verification: BookingVerification | None = field(default=None, kw_only=True)
    # operations: lag-tolerant reads on a streaming replica (SAVEIT_DATABASE_REPLICA_URL)
    replica: ReplicaReads | None = field(default=None, kw_only=True)
    waitlist: Waitlist | None = field(default=None, kw_only=True)  # None: turned off
    analytics: Analytics | None = field(default=None, kw_only=True)
    surveys: Surveys | None = field(default=None, kw_only=True)

    def close(self) -> None:
        if self.replica is not None:
            self.replica.close()
        if self.redis_gate is not None:
            self.redis_gate.close()
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


def _responder(settings: Settings, booking: BookingService) -> Responder:
    if settings.chat_bot:
        return BotResponder(
            booking,
            pending_minutes=settings.chat_pending_minutes,
            email_proof_ttl=timedelta(hours=settings.email_proof_hours),
        )
    return InboxResponder()


def build(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    migrate: bool | None = None,
    responder: Responder | None = None,
) -> Container:
    """Wire the app. ``migrate`` defaults to True on the embedded SQLite default,
    where nobody else would run ``saveit db upgrade``."""
    engine = create_db_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
        connect_timeout=settings.db_connect_timeout_s,
    )
    # --- operations: observe (saveit.observe) ---
    if settings.otel_endpoint is not None:
        tracing.install(service_name=settings.otel_service_name, endpoint=settings.otel_endpoint)
    tracing.instrument_engine(engine)
    if settings.metrics_enabled:
        time_transactions(engine)
    box = build_secret_box(settings)
    if migrate if migrate is not None else settings.database_url is None:
        upgrade(engine, box=box)
    if settings.env is Environment.PRODUCTION and bypasses_row_security(engine):
        log.warning(
            "the database role is a superuser or has BYPASSRLS: row-level security, the "
            "database's own guard between restaurants, does not apply to it"
        )
    booking = BookingService(
        engine,
        secret=settings.secret_key.get_secret_value().encode(),
        cache=RestaurantCache(recheck_s=settings.config_recheck_s),
        clock=clock,
        phone_region=settings.default_phone_region,
    )
    replica = build_replica(settings, engine)
    booking.replica = replica
    booking.listeners.append(metrics.count_booking_change)
    bus = build_bus(settings)
    relay = OutboxRelay(
        engine,
        bus,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        clock=clock,
    )
    gate = build_redis_gate(settings)
    availability = build_availability(settings, booking, gate)
    limiter = RateLimiter.from_settings(settings, gate)
    senders = build_senders(settings)
    abuse = AbuseLimits.from_settings(settings, limiter)
    gateway = Gateway(
        engine,
        senders=senders,
        box=box,
        responder=responder or _responder(settings, booking),
        clock=clock,
        limiter=limiter,
        guest_per_minute=settings.channel_guest_per_minute,
        send_attempts=settings.channel_send_attempts,
        send_backoff_s=settings.channel_send_backoff_s,
        public_base_url=settings.public_base_url,
        phone_region=settings.default_phone_region,
        lease=timedelta(seconds=settings.delivery_lease_s),
    )
    links = IdentityLinks(
        engine,
        gateway,
        secret=settings.secret_key.get_secret_value().encode(),
        clock=clock,
        phone_region=settings.default_phone_region,
        abuse=abuse,
    )
    verification = BookingVerification(
        engine,
        booking,
        secret=settings.secret_key.get_secret_value().encode(),
        clock=clock,
        hold_minutes=settings.booking_hold_minutes,
        abuse=abuse,
        wake=gateway.delivery.ready.set,
        phone_region=settings.default_phone_region,
    )
    if isinstance(gateway.responder, BotResponder) and gateway.responder.links is None:
        gateway.responder.links = links  # the codes go out through this gateway
    checkin = CheckIn(booking, Keyring.from_settings(settings), clock)
    qr_grace = timedelta(hours=settings.qr_link_grace_hours)
    qr = QrCodes(
        checkin.token_for,
        qr_png,
        lambda view: booking.qr_link_token(view, grace=qr_grace),
        settings.public_base_url,
    )
    if isinstance(gateway.responder, BotResponder) and gateway.responder.qr is None:
        gateway.responder.qr = qr  # the bot's confirmations carry the QR
    notifier = None
    if settings.notify_enabled:
        notifier = Notifier(
            booking, gateway.delivery, qr=qr, clock=clock, directory=gateway.directory
        )
    privacy = GuestPrivacy(engine, clock=clock, retention_days=settings.message_retention_days)
    scheduler = Scheduler(
        booking,
        notifier,
        offsets_minutes=settings.reminder_offsets_minutes,
        catch_up_minutes=settings.reminder_catch_up_minutes,
        clock=clock,
        retention=lambda: privacy.purge().total,
        partitions=PartitionKeeper(
            engine,
            months_ahead=settings.partition_months_ahead,
            retention_months=settings.retention_months,
            clock=clock,
            interval_s=settings.partition_check_interval_s,
        ),
    )
    proofs = AccountProofs(
        engine,
        box,
        graph=GraphOwnership(
            settings.graph_api_base,
            settings.graph_api_version,
            timeout_s=settings.channel_http_timeout_s,
        ),
        senders=senders,
        secret=settings.secret_key.get_secret_value().encode(),
        clock=clock,
    )
    scheduler.expire_holds = verification.expire
    waitlist = None
    if settings.waitlist_enabled:
        waitlist = Waitlist(
            booking,
            hold_minutes=settings.waitlist_hold_minutes,
            window_minutes=settings.waitlist_window_minutes,
            clock=clock,
            phone_region=settings.default_phone_region,
        )
        if isinstance(gateway.responder, BotResponder) and gateway.responder.waitlist is None:
            gateway.responder.waitlist = waitlist  # "¿te aviso si se libera algo?"
    analytics = Analytics(engine, clock=clock, restaurants=booking.restaurant)
    booking.refusal_listeners.append(analytics.booking_refused)
    surveys = Surveys(
        engine, notifier, gateway.delivery, restaurant_of=analytics.restaurant, clock=clock
    )
    scheduler.send_surveys = surveys.send_due
    if isinstance(gateway.responder, BotResponder) and gateway.responder.survey is None:
        gateway.responder.survey = SurveyChat(surveys)  # ratings after a visit
    return Container(
        settings=settings,
        engine=engine,
        booking=booking,
        bus=bus,
        relay=relay,
        redis_gate=gate,
        availability=availability,
        limiter=limiter,
        gateway=gateway,
        links=links,
        checkin=checkin,
        notifier=notifier,
        scheduler=scheduler,
        box=box,
        proofs=proofs,
        privacy=privacy,
        abuse=abuse,
        verification=verification,
        replica=replica,
        waitlist=waitlist,
        analytics=analytics,
        surveys=surveys,
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


def build_availability(
    settings: Settings, booking: BookingService, gate: RedisGate | None
) -> AvailabilityCache:
    """Redis (behind a ~1 s near cache) when configured, process memory otherwise;
    ``store=None`` disables caching."""
    store: CacheStore | None = None
    if settings.availability_cache:
        if gate is None:
            store = MemoryStore()
        elif settings.availability_local_ttl_s > 0:
            shared = RedisStore(gate, settings.redis_prefix)
            store = NearCache(shared, local_ttl_s=settings.availability_local_ttl_s)
        else:
            store = RedisStore(gate, settings.redis_prefix)
    cache = AvailabilityCache(
        booking,
        store,
        ttl_s=settings.availability_cache_ttl_s,
    )
    booking.listeners.append(cache.after_commit)
    booking.day_hint = cache.recent_occupancy
    return cache


def freeze_startup_heap() -> None:
    """Move everything allocated while starting up out of the garbage collector's sight.

    A started process holds a few hundred thousand long-lived objects (modules,
    SQLAlchemy metadata and compiled statements, pydantic models), and every
    full collection walked them all: 60-145 ms in which an API process answered
    nothing, the tail of ``bench/webhooks.py`` (p99 ~200 ms, ~96 ms with this).
    Frozen objects are never collected, which is right for what lives as long
    as the process; what requests allocate afterwards is collected as before.
    So it is called once per process, where the process is put together (the
    server's app factory, ``saveit worker``), never per app: tests build many
    apps in one process, and freezing there would keep each one's garbage.
    """
    gc.collect()
    gc.freeze()
