"""Running it: request threads, metrics, logs, traces and the double-booking auditor."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OperationsSettings(BaseModel):
    """The operations knobs of :class:`saveit.config.Settings` (see there)."""

    request_threads: int = Field(
        default=8,
        ge=1,
        le=200,
        description="Requests a process works on at once (the rest wait their turn, cheaply, "
        "in the event loop). Past a few per core, more threads only fight over the GIL "
        "and the connection pool: at 40, bench/booking.py measured 40% fewer bookings "
        "per second at 50% more CPU each.",
    )
    read_threads: int = Field(
        default=4,
        ge=1,
        le=200,
        description="Availability reads a process computes at once when the cache misses, on "
        "threads of their own: a guest's read never waits behind a burst of bookings for one "
        "of the request threads (a booking holds one for a whole transaction).",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Count requests, bookings, messages and events, and serve them in the "
        "Prometheus format at /metrics (and on SAVEIT_WORKER_METRICS_PORT for the worker).",
    )
    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port where `saveit worker` serves /metrics (0: none).",
    )
    worker_metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - scraped from outside the worker's container
        description="Interface of the worker's metrics server.",
    )
    log_format: str | None = Field(
        default=None,
        pattern="^(json|text)$",
        description="json (one object per line) or text; unset: json in production, "
        "text in development.",
    )
    log_level: str = Field(default="INFO", description="Root log level (DEBUG, INFO, ...).")
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (http://collector:4318/v1/traces); unset: "
        "no tracing.",
    )
    otel_service_name: str = Field(default="saveit", description="service.name of the traces.")
    analytics_coalesce_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="How often the analytics consumer rebuilds the days that events "
        "touched: each touched day is rebuilt at most once per period, whatever the "
        "number of events (figures lag by up to this much; rebuilding per event made "
        "a busy day's rebuilds quadratic and slowed the bot's replies).",
    )
    audit_interval_s: float = Field(
        default=300.0,
        ge=0,
        description="How often `saveit worker` checks that no two active bookings overlap "
        "on a table (0: never; `saveit audit` checks on demand).",
    )
