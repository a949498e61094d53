"""Running the notifier and the scheduler: in ``saveit worker``, or in the one
process of the embedded default (which has no worker).

The notifier is a consumer group on the event bus (``notifier``) whose handled
event ids are kept in the database, so a redelivered event is skipped even
after a restart; the sent-records make even a handled-twice event harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from saveit.events.bus import Bus
from saveit.events.consumer import Consumer
from saveit.events.inprocess import InProcessBus
from saveit.events.processed import SqlProcessedStore
from saveit.events.replay import replay_unhandled
from saveit.notify.notifier import Notifier
from saveit.notify.scheduler import Scheduler
from saveit.resilience.priority import lower_priority

GROUP = "notifier"
# Between batches that were not full, the consumer waits this long for more
# (saveit.events.consumer): a confirmation leaves at most this much later, well
# inside what a guest notices after booking, and a booking burst is read in ten
# batches a second instead of forty.
LINGER_S = 0.1
log = logging.getLogger(__name__)


@dataclass
class NotifyThreads:
    consumer: Consumer | None
    threads: list[threading.Thread] = field(default_factory=list)

    def join(self, timeout: float = 10.0) -> None:
        for thread in self.threads:
            thread.join(timeout)


def _resume_then_run(consumer: Consumer, notifier: Notifier, stop: threading.Event) -> None:
    """Put back what the group had not handled when the last process stopped (retrying
    while the database is away), then consume."""
    backoff = 0.5
    while not stop.is_set():
        try:
            replay_unhandled(notifier.db, consumer.bus, GROUP, now=notifier.clock())
            break
        except Exception as exc:
            log.warning("notifier: cannot resume from the outbox yet: %s", type(exc).__name__)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
    consumer.run(stop)


def start_notifications(
    bus: Bus,
    notifier: Notifier | None,
    scheduler: Scheduler,
    stop: threading.Event,
    *,
    interval_s: float,
    reclaim_s: float = 60.0,
    nice: int = 0,
) -> NotifyThreads:
    """The notifier's consumer (unless notifications are off) and the scheduler, each
    thread ``nice`` steps lower in CPU priority (:mod:`saveit.resilience.priority`)."""
    consumer = None
    loops: list[tuple[str, Callable[..., None], tuple[object, ...]]] = [
        ("saveit-scheduler", scheduler.run, (stop, interval_s))
    ]
    if notifier is not None:
        processed = SqlProcessedStore(notifier.db)
        consumer = Consumer(
            bus,
            GROUP,
            notifier.handle,
            processed=processed,
            accepts=notifier.accepts,
            prepare=notifier.prepare,
            min_idle_ms=int(reclaim_s * 1000),
            linger_s=LINGER_S,
        )
        if isinstance(bus, InProcessBus):  # its log died with the last process: refill it
            loops.append(("saveit-notifier", _resume_then_run, (consumer, notifier, stop)))
        else:
            loops.append(("saveit-notifier", consumer.run, (stop,)))
    running = NotifyThreads(consumer)
    for name, target, args in loops:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        lower_priority(nice, thread)
        running.threads.append(thread)
    return running
