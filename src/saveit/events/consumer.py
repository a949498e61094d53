"""The consumer runner: one member of one consumer group, calling a handler per event.

Per batch read from the bus: one look-up of which event ids the group already
handled (those are skipped and acked — that is what makes at-least-once
delivery look like exactly-once handling); then, in delivery order, the handler
for each of the others, retried a few times in place; then one record of every
id handled; then one ack of everything settled. The order matters: a crash
between a handler and the record means the batch's handled events are handled
again (at least once); a crash between the record and the ack only means a
harmless redelivery that is skipped. A second copy of an event within one batch
is skipped like any duplicate. Event types the group does not handle
(``accepts``) are acked with the rest and never recorded. Before the handler
calls, ``prepare`` (when given) sees the batch's events to be handled, so a
handler can read once for the batch what it would otherwise read per event; if
it fails, each event is handled as if it had not run.

A group that need not act within milliseconds lingers (``linger_s``): after a
batch that was not full, :meth:`Consumer.run` waits that long before reading
again, so what arrives meanwhile comes as one batch. Each batch costs the same
round trips however small it is (the read, the look-up, the record, the ack),
and under a booking burst the relay publishes a batch every 25 ms: read as they
came, the worker's three groups made ~40 batches a second each, most of one or
two events, and were a third of the worker's interpreter time
(``bench/booking.py``, py-spy). A full batch never lingers: a backlog is read
at once.

A handler that keeps failing is not acked, so the entry stays pending and comes
back through ``claim_stale`` after ``min_idle_ms`` (on this member or another);
the batch's other events are recorded and acked as usual. After
``max_deliveries`` it is dead-lettered: parked on the bus for an operator,
logged at ERROR, and acked, so one poison event cannot stall the group forever.
Every handler failure is logged with its traceback; none is swallowed silently.

``min_idle_ms`` must exceed the slowest batch (``batch_size`` handlers, with
their retries): an entry idle for that long is taken as abandoned by a dead
member, and if its member was merely slow, both handle it. Within a group,
events are handled in order per member but a retried event can land after
later ones; handlers compare versions rather than assume order.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from saveit.domain.events import Event
from saveit.events.bus import Bus, BusUnavailable, Delivery
from saveit.events.processed import ProcessedStore
from saveit.observe import metrics
from saveit.observe.context import resumed

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
Prepare = Callable[[Sequence[Event]], None]


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # event types the group does not handle

    def read(self) -> int:
        """How many deliveries these counts are of."""
        return self.handled + self.duplicates + self.failed + self.skipped

    def add(self, other: ConsumerStats) -> None:
        self.handled += other.handled
        self.duplicates += other.duplicates
        self.failed += other.failed
        self.dead_lettered += other.dead_lettered
        self.skipped += other.skipped


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Consumer:
    def __init__(
        self,
        bus: Bus,
        group: str,
        handler: Handler,
        *,
        processed: ProcessedStore,
        name: str | None = None,
        start: str = "0",
        batch_size: int = 50,
        block_ms: int = 500,
        min_idle_ms: int = 60_000,
        reclaim_every_s: float = 5.0,
        retry_delays_s: Sequence[float] = (0.05, 0.25),
        max_deliveries: int = 10,
        max_backoff_s: float = 30.0,
        accepts: Callable[[str], bool] | None = None,
        prepare: Prepare | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self.bus = bus
        self.accepts = accepts
        self.prepare = prepare
        self.group = group
        self.handler = handler
        self.processed = processed
        self.name = name or default_consumer_name()
        self.start = start
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.min_idle_ms = min_idle_ms
        self.reclaim_every_s = reclaim_every_s
        self.retry_delays_s = tuple(retry_delays_s)
        self.max_deliveries = max_deliveries
        self.max_backoff_s = max_backoff_s
        self.linger_s = linger_s
        self.stats = ConsumerStats()
        self._last_reclaim: float | None = None
        self._group_ready = False

    def poll_once(self, *, block_ms: int | None = None) -> ConsumerStats:
        """Reclaim stale entries when due, then read and handle one batch.

        Raises :class:`~saveit.events.bus.BusUnavailable` when the bus is away.
        """
        if not self._group_ready:
            self.bus.ensure_group(self.group, start=self.start)
            self._group_ready = True
        stats = ConsumerStats()
        now = time.monotonic()
        if self._last_reclaim is None or now - self._last_reclaim >= self.reclaim_every_s:
            self._last_reclaim = now
            stale = self.bus.claim_stale(
                self.group, self.name, min_idle_ms=self.min_idle_ms, count=self.batch_size
            )
            self._handle_all(stale, stats)
        fresh = self.bus.read(
            self.group,
            self.name,
            count=self.batch_size,
            block_ms=self.block_ms if block_ms is None else block_ms,
        )
        self._handle_all(fresh, stats)
        self.stats.add(stats)
        return stats

    def _handle_all(self, deliveries: Sequence[Delivery], stats: ConsumerStats) -> None:
        """Handle what the group wants, then record and ack the batch in one call
        each. An event type the handler ignores is acked unrecorded: it costs the
        group no database round trips."""
        wanted: list[Delivery] = []
        settled: list[str] = []  # message ids to ack
        for delivery in deliveries:
            if self.accepts is None or self.accepts(delivery.event.type):
                wanted.append(delivery)
            else:
                settled.append(delivery.message_id)
        stats.skipped += len(settled)
        ids = [d.event.event_id for d in wanted]
        done = self.processed.seen_many(self.group, ids) if ids else set()
        self._prepare([d.event for d in wanted if d.event.event_id not in done])
        handled: list[str] = []
        for delivery in wanted:
            event_id = delivery.event.event_id
            if event_id in done:
                settled.append(delivery.message_id)
                stats.duplicates += 1
            elif self._handle(delivery, stats):
                done.add(event_id)  # a second copy later in this batch is a duplicate
                handled.append(event_id)
                settled.append(delivery.message_id)
        if handled:
            self.processed.mark_many(self.group, handled)
            stats.handled += len(handled)
        if settled:
            self.bus.ack(self.group, settled)

    def _prepare(self, batch: Sequence[Event]) -> None:
        if self.prepare is None or not batch:
            return
        try:
            self.prepare(batch)
        except Exception:  # each handler call then reads for itself
            log.exception("consumer %s/%s: preparing a batch failed", self.group, self.name)

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; bus outages and bugs are logged and backed off."""
        backoff = 0.1
        while not stop.is_set():
            try:
                stats = self.poll_once()
            except BusUnavailable as exc:
                backoff = min(backoff * 2, self.max_backoff_s)
                log.warning("consumer %s/%s: bus unavailable: %s", self.group, self.name, exc)
                stop.wait(backoff)
                continue
            except Exception:
                backoff = min(backoff * 2, self.max_backoff_s)
                log.exception("consumer %s/%s: poll failed", self.group, self.name)
                stop.wait(backoff)
                continue
            backoff = 0.1
            if self.linger_s > 0 and 0 < stats.read() < self.batch_size:
                stop.wait(self.linger_s)

    def _handle(self, delivery: Delivery, stats: ConsumerStats) -> bool:
        """Call the handler; on failure, count it and dead-letter a hopeless entry.
        True when the event was handled (the caller records and acks it)."""
        if self._call_handler(delivery):
            return True
        event = delivery.event
        stats.failed += 1
        if delivery.deliveries >= self.max_deliveries:
            log.error(
                "consumer %s: dead-lettering %s %s after %d deliveries",
                self.group,
                event.type,
                event.event_id,
                delivery.deliveries,
            )
            self.bus.dead_letter(self.group, delivery, "handler kept failing")
            metrics.dead_letters.inc()
            stats.dead_lettered += 1
        return False

    def _call_handler(self, delivery: Delivery) -> bool:
        event = delivery.event
        attempts = len(self.retry_delays_s) + 1
        for attempt in range(1, attempts + 1):
            try:
                with resumed(event.payload):
                    log.debug("consumer %s: handling %s %s", self.group, event.type, event.event_id)
                    self.handler(event)
            except Exception:
                log.exception(
                    "consumer %s: handler failed on %s %s (attempt %d/%d, delivery %d)",
                    self.group,
                    event.type,
                    event.event_id,
                    attempt,
                    attempts,
                    delivery.deliveries,
                )
                if attempt < attempts:
                    time.sleep(self.retry_delays_s[attempt - 1])
                continue
            return True
        return False
