"""The composition root: settings in, a wired application container out.

The only place that decides which adapters run: SQLite or PostgreSQL, the
in-process bus or Redis Streams (channel providers join here). Nothing below it
asks what mode it is in.

The graph is built in one pass, in dependency order, and handed out frozen:
a part gets what it needs through its constructor, never assigned afterwards,
so what a part holds is what its constructor shows. Which background threads
a process runs over it is :mod:`saveit.runtime`'s business.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine

from saveit.analytics.service import Analytics
from saveit.analytics.survey import Surveys
from saveit.analytics.survey_chat import SurveyChat
from saveit.booking.service import BookingService, Clock, utc_now
from saveit.bootstrap.adapters import (
    build_bus,
    build_redis_gate,
    build_replica,
    build_secret_box,
)
from saveit.cache import AvailabilityCache, CacheStore, MemoryStore, NearCache, RedisStore
from saveit.channels.meta.ownership import GraphOwnership
from saveit.channels.registry import build_senders
from saveit.checkin import CheckIn, Keyring
from saveit.checkin.qr import png as qr_png
from saveit.config import Environment, Settings
from saveit.conversation.bot import BotResponder
from saveit.domain.availability import Occupancy
from saveit.domain.commands import Actor, CreateReservation
from saveit.domain.views import ReservationView
from saveit.events.bus import Bus
from saveit.events.relay import OutboxRelay
from saveit.messaging.account_proof import AccountProofs
from saveit.messaging.delivery import Delivery
from saveit.messaging.gateway import Gateway, Responder
from saveit.messaging.identity import IdentityLinks
from saveit.messaging.inbox import InboxResponder
from saveit.messaging.verification import BookingVerification
from saveit.notify import Notifier, QrCodes, Scheduler
from saveit.observe import metrics, tracing
from saveit.observe.database import time_transactions
from saveit.privacy import GuestPrivacy
from saveit.ratelimit import RateLimiter
from saveit.ratelimit.abuse import AbuseLimits
from saveit.resilience import RedisGate
from saveit.store.channel_accounts import AccountDirectory
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.partitions import PartitionKeeper
from saveit.store.replica import ReplicaReads
from saveit.store.restaurants import RestaurantCache
from saveit.store.secret_box import SecretBox
from saveit.store.tenancy import bypasses_row_security
from saveit.store.unit_of_work import Database
from saveit.waitlist.service import Waitlist

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Container:
    """The whole object graph, built at once by :func:`build` and never rewired.

    The ``None``-able parts are the ones configuration turns off; everything
    else always exists, so nobody asks.
    """

    settings: Settings
    engine: Engine
    db: Database  # the one way to the data: units of work and readings on this engine
    booking: BookingService
    bus: Bus
    relay: OutboxRelay
    availability: AvailabilityCache
    limiter: RateLimiter
    abuse: AbuseLimits
    gateway: Gateway
    links: IdentityLinks
    verification: BookingVerification
    checkin: CheckIn
    scheduler: Scheduler
    # security: channel accounts proven before they route; provider secrets sealed at rest
    box: SecretBox
    proofs: AccountProofs
    privacy: GuestPrivacy
    # Request-path Redis (cache, rate limits) behind a circuit breaker; None without
    # SAVEIT_REDIS_URL (the cache and the limits then live in process memory).
    redis_gate: RedisGate | None
    # None with SAVEIT_NOTIFY_ENABLED=false: the scheduler still marks no-shows.
    notifier: Notifier | None
    # operations: lag-tolerant reads on a streaming replica; None without
    # SAVEIT_DATABASE_REPLICA_URL (every read goes to the primary).
    replica: ReplicaReads | None
    # None with SAVEIT_WAITLIST_ENABLED=false: nobody is offered a place or a held seat.
    waitlist: Waitlist | None
    analytics: Analytics
    surveys: Surveys

    def close(self) -> None:
        self.analytics.refusals.close()  # before the database goes
        if self.redis_gate is not None:
            self.redis_gate.close()
        self.bus.close()
        self.db.dispose()  # the replica's engine, then the primary's


def _bot(
    settings: Settings,
    booking: BookingService,
    *,
    links: IdentityLinks,
    qr: QrCodes,
    waitlist: Waitlist | None,
    survey: SurveyChat,
) -> Responder:
    if settings.chat_bot:
        return BotResponder(
            booking,
            pending_minutes=settings.chat_pending_minutes,
            email_proof_ttl=timedelta(hours=settings.email_proof_hours),
            links=links,  # the codes go out through the gateway's delivery
            qr=qr,  # the bot's confirmations carry the QR
            waitlist=waitlist,  # "¿te aviso si se libera algo?"
            survey=survey,  # ratings after a visit
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
    where nobody else would run ``saveit db upgrade``. ``responder`` replaces the
    bot (or the staff inbox) behind the gateway, wired as it comes."""
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
    secret = settings.secret_key.get_secret_value().encode()
    replica = build_replica(settings, engine)
    db = Database(engine, replica=replica)
    # The availability cache reads through the booking service and hears of its
    # changes: the two refer to each other, so the service gets closures over the
    # cache, which is built a few lines below, before any request can arrive.
    availability: AvailabilityCache

    def invalidate(now: ReservationView, before: ReservationView | None) -> None:
        availability.after_commit(now, before)

    def day_hint(slug: str, day: date) -> Occupancy | None:
        return availability.recent_occupancy(slug, day)

    analytics: Analytics  # likewise: it counts refusals, and reads restaurants through booking

    def refused(cmd: CreateReservation, actor: Actor, code: str) -> None:
        analytics.booking_refused(cmd, actor, code)

    booking = BookingService(
        db,
        secret=secret,
        cache=RestaurantCache(recheck_s=settings.config_recheck_s),
        clock=clock,
        phone_region=settings.default_phone_region,
        listeners=[metrics.count_booking_change, invalidate],
        day_hint=day_hint,
        refusal_listeners=[refused],
    )
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
    abuse = AbuseLimits.from_settings(settings, limiter)
    senders = build_senders(settings)
    lease = timedelta(seconds=settings.delivery_lease_s)
    # One directory of channel accounts for the gateway's routing, the sends and the
    # notifier (the admin service's edits forget it in this process at once).
    directory = AccountDirectory(db)
    # Everything that queues a message to a guest wakes this one delivery loop.
    delivery = Delivery(
        engine,
        senders=senders,
        box=box,
        clock=clock,
        send_attempts=settings.channel_send_attempts,
        send_backoff_s=settings.channel_send_backoff_s,
        public_base_url=settings.public_base_url,
        lease=lease,
        directory=directory,
        concurrency=settings.delivery_concurrency,
    )
    links = IdentityLinks(
        engine,
        wake=delivery.ready.set,
        secret=secret,
        clock=clock,
        phone_region=settings.default_phone_region,
        abuse=abuse,
    )
    verification = BookingVerification(
        engine,
        booking,
        secret=secret,
        clock=clock,
        hold_minutes=settings.booking_hold_minutes,
        abuse=abuse,
        wake=delivery.ready.set,
        phone_region=settings.default_phone_region,
    )
    checkin = CheckIn(booking, Keyring.from_settings(settings), clock)
    qr_grace = timedelta(hours=settings.qr_link_grace_hours)
    qr = QrCodes(
        checkin.token_for,
        qr_png,
        lambda view: booking.qr_link_token(view, grace=qr_grace),
        settings.public_base_url,
    )
    waitlist = None
    if settings.waitlist_enabled:
        waitlist = Waitlist(
            booking,
            hold_minutes=settings.waitlist_hold_minutes,
            window_minutes=settings.waitlist_window_minutes,
            clock=clock,
            phone_region=settings.default_phone_region,
        )
    notifier = None
    if settings.notify_enabled:
        notifier = Notifier(booking, delivery, qr=qr, clock=clock, directory=directory)
    analytics = Analytics(engine, clock=clock, restaurants=booking.restaurant)
    surveys = Surveys(engine, notifier, delivery, restaurant_of=analytics.restaurant, clock=clock)
    bot = _bot(settings, booking, links=links, qr=qr, waitlist=waitlist, survey=SurveyChat(surveys))
    gateway = Gateway(
        engine,
        senders=senders,
        delivery=delivery,
        directory=directory,
        responder=responder or bot,
        clock=clock,
        limiter=limiter,
        guest_per_minute=settings.channel_guest_per_minute,
        phone_region=settings.default_phone_region,
        lease=lease,
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
        expire_holds=verification.expire,
        send_surveys=surveys.send_due,
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
        secret=secret,
        clock=clock,
    )
    return Container(
        settings=settings,
        engine=engine,
        db=db,
        booking=booking,
        bus=bus,
        relay=relay,
        availability=availability,
        limiter=limiter,
        abuse=abuse,
        gateway=gateway,
        links=links,
        verification=verification,
        checkin=checkin,
        scheduler=scheduler,
        box=box,
        proofs=proofs,
        privacy=privacy,
        redis_gate=gate,
        notifier=notifier,
        replica=replica,
        waitlist=waitlist,
        analytics=analytics,
        surveys=surveys,
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
            store = NearCache(
                shared,
                local_ttl_s=settings.availability_local_ttl_s,
                entry_ttl_s=settings.availability_cache_ttl_s,
            )
        else:
            store = RedisStore(gate, settings.redis_prefix)
    cache = AvailabilityCache(
        booking,
        store,
        ttl_s=settings.availability_cache_ttl_s,
    )
    return cache
