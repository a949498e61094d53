"""The loops that answer stored messages and deliver queued ones.

They run in ``saveit worker`` and, where no worker runs (the embedded
default), in the API process; ``SAVEIT_CHANNEL_WORKERS_IN_API`` overrides
that. Leases in the messages table keep two loops off one message, so any
number of processes may run them.

Production keeps them out of the API processes on purpose: answering a guest
is several transactions of Python work, and in the same process it competed
for the interpreter with the webhook acknowledgements, whose latency the
providers see (``bench/webhooks.py``, bench/README.md).

What wakes them: work stored in the same process sets an event at once; work
another process committed on PostgreSQL arrives as a ``NOTIFY`` (see
``saveit.store.messages``), heard by one listening connection per process;
on SQLite, or while that connection is down, they look every
``SAVEIT_CHANNEL_WORKER_POLL_S``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from saveit.messaging.gateway import Gateway
from saveit.resilience.priority import lower_priority
from saveit.store.messages import INBOX_NOTICE, OUTBOX_NOTICE

log = logging.getLogger(__name__)


class ChannelWorkers:
    """``nice``: how much the answering and delivering threads lower their own CPU
    priority (Linux, where a thread has its own nice value; elsewhere it is
    ignored). ``saveit worker`` sets it so that guest turns, which wait behind an
    acknowledgement anyway, yield the cores to the API processes, while its
    outbox relay keeps its priority (live screens and cache invalidation ride
    on it). Measured with ``bench/webhooks.py``: p99 71–74 ms, against 84–107 ms
    with the whole worker process niced and 115 ms with nothing niced."""

    def __init__(self, gateway: Gateway, *, poll_s: float = 0.2, nice: int = 0) -> None:
        self.gateway = gateway
        self.poll_s = poll_s
        self.nice = nice
        self._threads: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        for name, step, ready in (
            ("saveit-inbox", self.gateway.answer_inbound, self.gateway.inbox_ready),
            ("saveit-delivery", self.gateway.deliver_due, self.gateway.delivery.ready),
        ):
            thread = threading.Thread(
                target=self._loop, args=(step, ready, stop), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.gateway.db.is_postgres:
            thread = threading.Thread(
                target=self._listen, args=(stop,), name="saveit-channel-notices", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float = 10.0) -> None:
        self.gateway.inbox_ready.set()
        self.gateway.delivery.ready.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, step: Callable[[], int], ready: threading.Event, stop: threading.Event) -> None:
        lower_priority(self.nice)
        backoff = self.poll_s
        while not stop.is_set():
            ready.clear()
            try:
                busy = step() > 0
                backoff = self.poll_s
            except Exception:  # the database is away: wait, then try again
                log.exception("channels: worker step failed")
                busy = False
                backoff = min(backoff * 2, 5.0)
            if not busy:
                ready.wait(backoff)

    def _listen(self, stop: threading.Event) -> None:
        """Turn PostgreSQL notices of committed work into wake-ups, reconnecting
        (and waking both loops, in case a notice went by) after a failure."""
        wake = {
            INBOX_NOTICE: self.gateway.inbox_ready,
            OUTBOX_NOTICE: self.gateway.delivery.ready,
        }
        backoff = self.poll_s
        while not stop.is_set():
            try:
                with self.gateway.db.listening_connection("saveit-notices") as conn:
                    for notice in wake:
                        conn.execute(f"LISTEN {notice}")
                    for event in wake.values():
                        event.set()
                    backoff = self.poll_s
                    while not stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            wake[note.channel].set()
            except psycopg.Error as exc:  # polling carries on meanwhile
                log.warning("channels: notice listener lost its connection: %s", exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
