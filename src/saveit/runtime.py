"""The background parts of one process, started and stopped in one place.

An API process and ``saveit worker`` run the same parts — the outbox relay,
the notifier and the scheduler, the waitlist, the double-booking auditor, the
channel workers — and differ only in which of them: a :class:`Plan` says
which, from the settings, and :class:`Runtime` starts them in a fixed order
and stops them in one. On the embedded default (no Redis) nobody runs
``saveit worker``, so the API process runs what the worker would; with Redis
the API processes only acknowledge webhooks and serve screens, and keep
for themselves what every process needs: the live feed's hub and the
availability cache's invalidation. ``saveit smtp`` runs only channel workers.

Every part is a daemon thread watching one stop event; the live hub also
needs the event loop it fans out on, so the API starts and stops it with
:meth:`Runtime.astart` and :meth:`Runtime.astop`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from saveit.analytics.runner import start_analytics
from saveit.bootstrap import Container
from saveit.cache.invalidation import InvalidationFeed, start_invalidation
from saveit.config import Settings
from saveit.domain.model import Restaurant
from saveit.events.doorbell import DoorbellListener, RedisDoorbell, RelayHeartbeat, channel_of
from saveit.messaging.workers import ChannelWorkers
from saveit.notify import start_notifications
from saveit.observe import auditor
from saveit.observe.gauges import scrape_gauges
from saveit.observe.metrics import Exposition
from saveit.realtime import LiveHub, build_hub
from saveit.realtime.sources import OutboxPoller
from saveit.store.outbox import doorbell, hang_doorbell
from saveit.waitlist.runner import start_waitlist

log = logging.getLogger(__name__)


class WorkerPart(Enum):
    """What a ``saveit worker`` process takes on (``--only``); by default, everything.

    A process runs on one interpreter lock, so the guest turns (answering and
    delivering: several transactions of Python each) and the events (the relay
    and its consumers) queue behind each other in one worker even when the
    machine has cores to spare. Split, they run side by side. Any number of
    either is safe, as any number of whole workers is: leases keep two
    processes off one message and one guest's messages in order, relays
    publish in outbox order between them, and consumer groups share the
    stream. ``bench/bot.py --split-worker`` measures the split.
    """

    EVENTS = "events"  # the relay, the notifier and scheduler, waitlist, analytics, auditor
    CHANNELS = "channels"  # answer stored guest messages, deliver queued ones


class Relay(Enum):
    """Where a process publishes the outbox to the bus, if it does."""

    OFF = "off"
    THREAD = "thread"  # beside the requests (the embedded default's API process)
    FOREGROUND = "foreground"  # on the thread that calls :meth:`Runtime.run` (the worker)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Which background parts one process runs."""

    relay: Relay = Relay.OFF
    notifications: bool = False  # the notifier's consumer and the scheduler
    waitlist: bool = False  # its consumer and sweep, when the waitlist is on
    analytics: bool = False  # the consumer that keeps the figures' per-day counters
    auditor: bool = False  # every SAVEIT_AUDIT_INTERVAL_S (0: never)
    channel_workers: bool = False  # answer stored guest messages, deliver queued ones
    channel_workers_nice: int = 0
    consumers_nice: int = 0  # the notifier's, the waitlist's and the analytics' threads
    live_hub: bool = False  # per process: tails the events for WebSocket/SSE subscribers
    invalidation: bool = False  # per process: hears availability changes (saveit.cache)
    metrics_server: bool = False  # /metrics on SAVEIT_WORKER_METRICS_PORT

    @classmethod
    def api(cls, settings: Settings) -> Plan:
        """An API process: the worker's parts too where no worker runs."""
        alone = settings.runs_relay_in_process
        return cls(
            relay=Relay.THREAD if alone else Relay.OFF,
            notifications=alone,
            waitlist=alone,
            analytics=alone,
            auditor=alone,
            channel_workers=settings.runs_channel_workers_in_api,
            live_hub=True,
            invalidation=True,
        )

    @classmethod
    def worker(
        cls, settings: Settings, parts: frozenset[WorkerPart] = frozenset(WorkerPart)
    ) -> Plan:
        """``saveit worker``: every part that must run once somewhere, and no hub;
        or only some of them (see :class:`WorkerPart`)."""
        events = WorkerPart.EVENTS in parts
        return cls(
            relay=Relay.FOREGROUND if events else Relay.OFF,
            notifications=events,
            waitlist=events,
            analytics=events,
            auditor=events,
            channel_workers=WorkerPart.CHANNELS in parts,
            channel_workers_nice=settings.channel_workers_nice,
            consumers_nice=settings.consumers_nice,
            metrics_server=True,
        )

    @classmethod
    def smtp(cls) -> Plan:
        """``saveit smtp``: answers the email it stores (any other process may too)."""
        return cls(channel_workers=True)


class _Joinable(Protocol):
    def join(self, timeout: float = ...) -> None: ...


class Runtime:
    """The started parts of one :class:`Plan` over one container."""

    def __init__(self, container: Container, plan: Plan) -> None:
        self.container = container
        self.plan = plan
        self.stopping = threading.Event()
        self.hub: LiveHub | None = None
        if plan.live_hub:
            self.hub = build_hub(
                container.settings,
                container.bus,
                outbox=OutboxPoller(container.engine),
                restaurant=self._restaurant,
            )
        self._joins: list[_Joinable] = []
        self._invalidation: InvalidationFeed | None = None
        self._metrics_server: WSGIServer | None = None
        self._ring: Callable[[], None] | None = None
        self._heartbeat: RelayHeartbeat | None = None

    def _restaurant(self, restaurant_id: int) -> Restaurant:
        booking = self.container.booking
        with booking.reading() as conn:
            return booking.cache.get_by_id(conn, restaurant_id)

    # --- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the plan's threads (the live hub waits for :meth:`astart`)."""
        container, plan, stop = self.container, self.plan, self.stopping
        settings = container.settings
        if plan.metrics_server:
            self._start_metrics_server(settings)
        self._hang_doorbell()
        if plan.relay is Relay.THREAD:
            relay = threading.Thread(
                target=container.relay.run, args=(stop,), name="saveit-relay", daemon=True
            )
            relay.start()
            self._joins.append(_Timed(relay))
        if plan.auditor:
            auditing = auditor.start(container.engine, stop, settings.audit_interval_s)
            if auditing is not None:
                self._joins.append(_Timed(auditing))
        if plan.channel_workers:
            workers = ChannelWorkers(
                container.gateway,
                poll_s=settings.channel_worker_poll_s,
                nice=plan.channel_workers_nice,
                answerers=settings.channel_answerers,
            )
            workers.start(stop)
            self._joins.append(workers)
        if plan.notifications:
            notify = start_notifications(
                container.bus,
                container.notifier,
                container.scheduler,
                stop,
                interval_s=settings.scheduler_interval_s,
                reclaim_s=settings.notify_reclaim_s,
                nice=plan.consumers_nice,
            )
            self._joins.append(notify)
        if plan.waitlist and container.waitlist is not None:
            waiting = start_waitlist(
                container.bus,
                container.waitlist,
                container.notifier,
                stop,
                interval_s=settings.waitlist_sweep_s,
                nice=plan.consumers_nice,
            )
            self._joins.append(waiting)
        if plan.analytics:
            self._joins.append(
                start_analytics(
                    container.bus,
                    container.analytics,
                    stop,
                    coalesce_s=settings.analytics_coalesce_s,
                    nice=plan.consumers_nice,
                )
            )
        if plan.invalidation:
            # Every process hears every availability-changing event (see saveit.cache).
            self._invalidation = start_invalidation(settings, container.availability)

    def _hang_doorbell(self) -> None:
        """Commits that write events wake a relay at once (:mod:`saveit.events.doorbell`):
        this process's own, or through Redis the worker's."""
        container, settings = self.container, self.container.settings
        url = None if settings.redis_url is None else settings.redis_url.get_secret_value()
        channel = channel_of(settings.events_stream)
        if self.plan.relay is not Relay.OFF:
            self._ring = container.relay.wake
            if url is not None:  # other processes ring through Redis
                heartbeat = RelayHeartbeat(
                    url, settings.events_stream, timeout_s=settings.redis_timeout_s
                )
                container.relay.caught_up = heartbeat
                self._heartbeat = heartbeat
                listener = DoorbellListener(
                    url, channel, container.relay.wake, timeout_s=settings.redis_timeout_s
                )
                listener.start()
                self._joins.append(listener)
        elif url is not None:
            bell = RedisDoorbell(url, channel, timeout_s=settings.redis_timeout_s)
            bell.start()
            self._joins.append(bell)
            self._ring = bell.ring
        if self._ring is not None:
            hang_doorbell(container.engine, self._ring)

    async def astart(self) -> None:
        """:meth:`start`, and the live hub on the running event loop."""
        self.start()
        if self.hub is not None:
            await self.hub.start()

    def _start_metrics_server(self, settings: Settings) -> None:
        if not (settings.metrics_enabled and settings.worker_metrics_port):
            return
        exposition = Exposition(scrape_gauges(self.container.engine, self.container.bus))
        try:
            self._metrics_server, _ = start_http_server(
                settings.worker_metrics_port,
                addr=settings.worker_metrics_host,
                registry=exposition.registry,
            )
        except OSError as exc:  # another worker on this host holds the port: work on
            logging.getLogger("saveit.worker").error(
                "worker metrics: cannot listen on %s:%d (%s); set SAVEIT_WORKER_METRICS_PORT",
                settings.worker_metrics_host,
                settings.worker_metrics_port,
                exc,
            )

    # --- run and stop ---------------------------------------------------------------------

    def run(self) -> None:
        """Block until :attr:`stopping` is set, publishing the outbox meanwhile when the
        plan puts the relay in the foreground."""
        if self.plan.relay is Relay.FOREGROUND:
            self.container.relay.run(self.stopping)
        else:
            self.stopping.wait()

    def stop(self) -> None:
        """Stop every part and wait for it (each at most about ten seconds)."""
        if self._invalidation is not None:
            self._invalidation.stop()
        self._stop_threads()

    async def astop(self) -> None:
        """:meth:`stop` from the event loop, the live hub first."""
        if self._invalidation is not None:
            await asyncio.to_thread(self._invalidation.stop)
        if self.hub is not None:
            await self.hub.stop()
        await asyncio.to_thread(self._stop_threads)

    def _stop_threads(self) -> None:
        self.stopping.set()
        self.container.relay.wake()  # out of its idle wait, to see the stop
        if self._ring is not None and doorbell(self.container.engine) == self._ring:
            hang_doorbell(self.container.engine, None)
        self._ring = None
        if self._heartbeat is not None:
            self.container.relay.caught_up = None
        for part in self._joins:
            part.join()
        self._joins.clear()
        if self._heartbeat is not None:
            self._heartbeat.close()
            self._heartbeat = None
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server = None


@dataclass(frozen=True)
class _Timed:
    """A bare thread, joined like the others: at most ten seconds."""

    thread: threading.Thread

    def join(self, timeout: float = 10.0) -> None:
        self.thread.join(timeout)
