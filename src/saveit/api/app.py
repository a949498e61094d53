"""The HTTP API: an app built around a container, nothing global.

``uvicorn --factory saveit.api.app:create_app_from_env`` builds it from
``SAVEIT_*`` settings; tests hand ``create_app`` a container of their own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Response

from saveit import __version__
from saveit.api import access_log, problems
from saveit.api.deps import admin_services, console_services
from saveit.api.header_limits import HeaderLimit
from saveit.api.hot_reads import CachedAvailability
from saveit.api.middleware import BodyLimit, CatchAll
from saveit.api.openapi import document_settings
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
from saveit.api.webhook_lane import WebhookLane
from saveit.bootstrap import Container, build, freeze_startup_heap
from saveit.config import load_settings, refuse_exposed_development_secret
from saveit.console import mount as mount_console
from saveit.observe import logs, tracing
from saveit.observe.gauges import scrape_gauges
from saveit.observe.metrics import Exposition
from saveit.observe.middleware import Observe
from saveit.ratelimit import Decision
from saveit.ratelimit.middleware import RateLimit
from saveit.runtime import Plan, Runtime
from saveit.store.errors import OperationalError, PoolTimeout

log = logging.getLogger(__name__)


def create_app(container: Container) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run on AnyIO's thread pool; its size is our concurrency.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = container.settings.request_threads
        # Availability misses get a lane of their own (saveit.api.routers.public).
        _app.state.read_threads = anyio.CapacityLimiter(container.settings.read_threads)
        await anyio.to_thread.run_sync(_preload_configurations, container)
        # The background parts this process runs (see saveit.runtime): on the embedded
        # default, everything `saveit worker` would; always the live hub and invalidation.
        runtime = Runtime(container, Plan.api(container.settings))
        _app.state.live_hub = runtime.hub
        await runtime.astart()
        if container.availability is not None:
            await container.availability.aopen()
        try:
            yield
        finally:
            await runtime.astop()
            if container.availability is not None:
                await container.availability.aclose()
            container.close()

    app = FastAPI(
        title="SaveIt",
        version=__version__,
        summary="Restaurant reservations on one booking engine that never double-books.",
        lifespan=lifespan,
        # SaveIt traces and counts requests itself (saveit.observe: its own tracer, set by
        # SAVEIT_OTEL_ENDPOINT, and Prometheus). FastAPI's built-in OpenTelemetry would add
        # a second, unlinked span per request wherever a global provider is configured
        # (auto-instrumentation), and looks for one on every request even where none is.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    app.state.admin = admin_services(container)
    problems.install(app, unavailable=(OperationalError, PoolTimeout))
    document_settings(app, container.settings)
    # Busiest first: a request is matched against the routers in this order, twice
    # (FastAPI's route and then its handler), and a webhook behind the staff and admin
    # routers spent ~165 µs there. No two routes match one request (a test keeps it
    # so), so the order changes only the cost of a match, never its result.
    for module in (
        health,
        public,
        webhooks,
        reservations,
        webchat,
        live,
        checkin,
        staff,
        admin,
        notify,
        channels,
        privacy,
        waitlist,
        analytics,
    ):
        app.include_router(module.router)
    # The staff console (/console): pages, their static assets, CSP (saveit.console).
    mount_console(app, console_services(container, app.state.admin.database))
    # Innermost, behind every guard: a guest's read this process holds (saveit.api.hot_reads).
    app.add_middleware(
        CachedAvailability, cache=container.availability, route=public.availability_route()
    )
    # Provider webhooks, answered before routing (saveit.api.webhook_lane).
    app.add_middleware(WebhookLane, container=container, handlers=app.exception_handlers)
    app.add_middleware(BodyLimit, max_bytes=container.settings.max_body_bytes)
    app.add_middleware(
        RateLimit,
        limiter=container.limiter,
        refuse=_too_many_requests,
        threads=container.settings.request_threads,
    )
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


def _preload_configurations(container: Container) -> None:
    """The restaurants' configurations, before the first request (see
    ``RestaurantCache.preload``). A database that is away costs nothing here:
    each configuration is then loaded when first asked for, as without this."""
    limit = container.settings.config_preload
    if not limit:
        return
    try:
        count = container.booking.preload_configurations(limit)
    except (OperationalError, PoolTimeout) as exc:
        log.warning("configurations not preloaded (database unavailable: %s)", exc)
        return
    log.info("preloaded %d restaurants' configurations", count)


def _too_many_requests(decision: Decision) -> Response:
    return problems.problem(
        "RATE_LIMITED",
        "Too many requests; slow down",
        headers={"Retry-After": decision.retry_after_header},
        data={"retry_after": int(decision.retry_after_header)},
    )


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
