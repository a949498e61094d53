"""The Prometheus metrics, by the names alert rules and dashboards rely on.

They are module-level objects of ``prometheus_client``, incremented where the
event already happens. Under ``saveit serve --workers N`` each uvicorn worker
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (set up by the
command, fresh per run) and ``/metrics`` adds them up across processes; in one
process (``saveit demo``, tests, ``saveit worker``) they are plain in-memory
values. Gauges that describe the database or the bus (outbox backlog, relay and
consumer lag) are read when scraped, never on a request's path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets for HTTP and bot replies: the targets are tens of milliseconds.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "saveit_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
http_duration = Histogram(
    "saveit_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response.",
    ["method", "route"],
    buckets=_FAST,
)
bookings = Counter(
    "saveit_bookings_total",
    "Booking outcomes: created, refused, moved, cancelled, no_show.",
    ["outcome"],
)
booking_refusals = Counter(
    "saveit_booking_refusals_total",
    "Bookings and changes refused, by the domain error code.",
    ["code"],
)
claim_conflicts = Counter(
    "saveit_claim_conflicts_total",
    "Table claims lost to a racing booking (the next suitable table was tried).",
)
db_transactions = Histogram(
    "saveit_db_transaction_duration_seconds",
    "Time a unit of work holds a pooled connection: one transaction, begin to end.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
availability_cache = Counter(
    "saveit_availability_cache_total",
    "Availability reads by cache result: hit, miss, bypass.",
    ["result"],
)
dead_letters = Counter(
    "saveit_dead_letters_total",
    "Events a consumer group gave up on and parked.",
)
webhooks = Counter(
    "saveit_webhooks_total",
    "Inbound provider webhook messages: stored, duplicate, bad_signature, malformed, unrouted.",
    ["channel", "outcome"],
)
channel_sends = Counter(
    "saveit_channel_sends_total",
    "Outbound provider sends: sent, failed, retried.",
    ["channel", "outcome"],
)
bot_reply = Histogram(
    "saveit_bot_reply_duration_seconds",
    "Time to answer one stored guest message (understanding, booking, queueing replies).",
    buckets=_FAST,
)
circuit_breaker_open = Gauge(
    "saveit_circuit_breaker_open",
    "1 while the named circuit breaker is open.",
    ["name"],
    multiprocess_mode="livemax",
)
scheduler_runs = Counter(
    "saveit_scheduler_runs_total",
    "Periodic jobs run: reminders, no_shows, audit.",
    ["job"],
)
double_bookings = Gauge(
    "saveit_double_bookings_detected",
    "Overlapping pairs of active bookings on one table found by the last audit (must be 0).",
    multiprocess_mode="mostrecent",
)


_REFUSED = bookings.labels("refused")
_OUTCOMES = {name: bookings.labels(name) for name in ("created", "moved", "cancelled", "no_show")}


def count_refusal(code: str) -> None:
    _REFUSED.inc()
    booking_refusals.labels(code).inc()


def count_booking_change(view: Any, before: Any) -> None:
    """A booking engine change listener: created, moved, cancelled, no_show."""
    status = getattr(view.status, "value", view.status)
    if before is None:
        _OUTCOMES["created"].inc()
        return
    previous = getattr(before.status, "value", before.status)
    if status != previous:
        if status in ("cancelled", "no_show"):
            _OUTCOMES[status].inc()
    elif view.start != before.start or view.tables != before.tables:
        _OUTCOMES["moved"].inc()


cache_hit = availability_cache.labels("hit")
cache_miss = availability_cache.labels("miss")
cache_bypass = availability_cache.labels("bypass")


def multiprocess() -> bool:
    """True when this process writes its values to PROMETHEUS_MULTIPROC_DIR."""
    return values.ValueClass is not values.MutexValue


class ScrapeGauges(Collector):
    """Gauges computed when scraped: each function returns ``{labels: value}``."""

    def __init__(self) -> None:
        self._sources: list[tuple[str, str, list[str], Callable[[], Iterable[Any]]]] = []

    def add(
        self,
        name: str,
        documentation: str,
        labels: list[str],
        read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
    ) -> None:
        self._sources.append((name, documentation, labels, read))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, documentation, labels, read in self._sources:
            family = GaugeMetricFamily(name, documentation, labels=labels)
            try:
                for label_values, value in read():
                    family.add_metric(list(label_values), value)
            except Exception:  # noqa: S112 - an unreachable database or bus scrapes as absent
                continue
            yield family


class Exposition:
    """What ``/metrics`` (API) or the worker's metrics server answers."""

    def __init__(self, scrape: ScrapeGauges | None = None) -> None:
        if multiprocess():
            self.registry = CollectorRegistry()
            MultiProcessCollector(  # type: ignore[no-untyped-call]
                self.registry, path=os.environ[MULTIPROC_ENV]
            )
        else:
            self.registry = CollectorRegistry()
            self.registry.register(_Forward(REGISTRY))
        if scrape is not None:
            self.registry.register(scrape)

    content_type = CONTENT_TYPE_LATEST

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Forward(Collector):
    """The default registry's metrics inside a registry of our own (plus scrape gauges)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Any]:
        yield from self.source.collect()
