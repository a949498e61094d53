"""The HTTP API: an app built around a container, nothing global.

``uvicorn --factory saveit.api.app:create_app_from_env`` builds it from
``SAVEIT_*`` settings; tests hand ``create_app`` a container of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from saveit import __version__
from saveit.analytics.runner import start_analytics
from saveit.api import access_log, problems
from saveit.api.header_limits import HeaderLimit
from saveit.api.middleware import BodyLimit, CatchAll
from saveit.api.routers import (
    admin,
    analytics,
    channels,
    checkin,
    health,
    live,
    notify,
    privacy,
    public,
    reservations,
    staff,
    waitlist,
    webchat,
    webhooks,
)
from saveit.api.routers import metrics as metrics_router
from saveit.bootstrap import Container, build, freeze_startup_heap
from saveit.cache.invalidation import start_invalidation
from saveit.channels.workers import ChannelWorkers
from saveit.config import load_settings, refuse_exposed_development_secret
from saveit.notify import NotifyThreads, start_notifications
from saveit.observe import auditor, logs, tracing
from saveit.observe.gauges import scrape_gauges
from saveit.observe.metrics import Exposition
from saveit.observe.middleware import Observe
from saveit.ratelimit.middleware import RateLimit
from saveit.realtime import build_hub
from saveit.waitlist.runner import WaitlistThreads, start_waitlist


def create_app(container: Container) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run on AnyIO's thread pool; its size is our concurrency.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = container.settings.request_threads
        stop = threading.Event()
        relay: threading.Thread | None = None
        if container.settings.runs_relay_in_process:
            # The embedded default has no `saveit worker`: publish the outbox here.
            relay = threading.Thread(
                target=container.relay.run, args=(stop,), name="saveit-relay", daemon=True
            )
            relay.start()
        # ... and no worker to notify guests, send reminders and mark no-shows.
        notifying: NotifyThreads | None = None
        if container.settings.runs_relay_in_process and container.scheduler is not None:
            notifying = start_notifications(
                container.bus,
                container.notifier,
                container.scheduler,
                stop,
                interval_s=container.settings.scheduler_interval_s,
                reclaim_s=container.settings.notify_reclaim_s,
            )
        # ... and no worker to offer freed seats to the waitlist.
        waiting: WaitlistThreads | None = None
        if container.settings.runs_relay_in_process and container.waitlist is not None:
            waiting = start_waitlist(
                container.bus,
                container.waitlist,
                container.notifier,
                stop,
                interval_s=container.settings.waitlist_sweep_s,
            )
        if container.settings.runs_relay_in_process and container.analytics is not None:
            start_analytics(container.bus, container.analytics, stop)  # the figures' counters
        auditing = None
        if container.settings.runs_relay_in_process:
            auditing = auditor.start(container.engine, stop, container.settings.audit_interval_s)
        # One live-feed hub per process: tails the event stream, fans out to subscribers.
        hub = build_hub(container)
        _app.state.live_hub = hub
        await hub.start()
        # Every process hears every availability-changing event (see saveit.cache).
        invalidation = start_invalidation(container.settings, container.availability)
        # Answer and deliver guest messages here only where no worker does (see there).
        workers: ChannelWorkers | None = None
        if container.gateway is not None and container.settings.runs_channel_workers_in_api:
            workers = ChannelWorkers(
                container.gateway, poll_s=container.settings.channel_worker_poll_s
            )
            workers.start(stop)
        try:
            yield
        finally:
            if invalidation is not None:
                await asyncio.to_thread(invalidation.stop)
            await hub.stop()
            stop.set()
            if workers is not None:
                await asyncio.to_thread(workers.join)
            if relay is not None:
                relay.join(timeout=10)
            if auditing is not None:
                await asyncio.to_thread(auditing.join, 10)
            if notifying is not None:
                await asyncio.to_thread(notifying.join)
            if waiting is not None:
                await asyncio.to_thread(waiting.join)
            container.close()

    app = FastAPI(
        title="SaveIt",
        version=__version__,
        summary="Restaurant reservations on one booking engine that never double-books.",
        lifespan=lifespan,
    )
    app.state.container = container
    problems.install(app)
    for module in (
        health,
        public,
        reservations,
        staff,
        admin,
        live,
        notify,
        channels,
        webhooks,
        webchat,
        checkin,
        privacy,
        waitlist,
        analytics,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=container.settings.max_body_bytes)
    if container.limiter is not None:
        app.add_middleware(RateLimit, limiter=container.limiter)
    app.add_middleware(CatchAll)
    app.add_middleware(
        HeaderLimit,
        max_bytes=container.settings.max_header_bytes,
        max_count=container.settings.max_header_count,
    )
    # --- operations: request ids, metrics, traces (saveit.observe) ---
    settings = container.settings
    if settings.metrics_enabled:
        app.state.metrics = Exposition(scrape_gauges(container.engine, container.bus))
        app.include_router(metrics_router.router)
    app.add_middleware(Observe, count=settings.metrics_enabled)
    tracing.instrument_app(app)
    return app


def create_app_from_env() -> FastAPI:
    """The server process's app (uvicorn builds one per worker process)."""
    settings = load_settings()
    refuse_exposed_development_secret(settings)  # the CLI also checks the address it binds
    # Also when uvicorn was started without `saveit serve`'s logging configuration; the
    # access log's query-string redaction goes on after, so the configuration keeps it.
    logs.configure(settings.resolved_log_format, settings.log_level)
    access_log.install()
    app = create_app(build(settings))
    freeze_startup_heap()
    return app
