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

Several guests can be answered at once (``SAVEIT_CHANNEL_ANSWERERS``, on
PostgreSQL): a turn spends most of its time waiting on the database's round
trips and commits, not on the interpreter, so one answering thread made every
guest queue behind the others' transactions. One thread claims, at most as
many messages as there are idle answerers, and hands each guest's messages to
one of them in order; a guest with a message being answered has none claimed
(the claim skips guests with a live lease), so one guest's turns never overlap.
It is 1 by default: on a host the worker shares with the API, answering at once
took the CPU the webhook acknowledgements need (``bench/webhooks.py``: p99 123
and 150 ms against 66 and 79 ms with one), while with its own interpreter and
cores (``saveit worker --only channels``) 4 answered ~20% more turns a second.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import psycopg

from saveit.messaging.gateway import Gateway
from saveit.resilience.priority import lower_priority
from saveit.store.messages import INBOX_NOTICE, OUTBOX_NOTICE, StoredMessage

log = logging.getLogger(__name__)


class ChannelWorkers:
    """``nice``: how much the answering and delivering threads lower their own CPU
    priority (Linux, where a thread has its own nice value; elsewhere it is
    ignored). ``saveit worker`` sets it so that guest turns, which wait behind an
    acknowledgement anyway, yield the cores to the API processes, while its
    outbox relay keeps its priority (live screens and cache invalidation ride
    on it). Measured with ``bench/webhooks.py``: p99 71–74 ms, against 84–107 ms
    with the whole worker process niced and 115 ms with nothing niced."""

    def __init__(
        self, gateway: Gateway, *, poll_s: float = 0.2, nice: int = 0, answerers: int = 1
    ) -> None:
        self.gateway = gateway
        self.poll_s = poll_s
        self.nice = nice
        # SQLite takes one writer at a time: answering at once would only queue on its lock.
        self.answerers = answerers if gateway.db.is_postgres else 1
        self._threads: list[threading.Thread] = []
        self._answering: _Answering | None = None

    def start(self, stop: threading.Event) -> None:
        answer: Callable[[], int] = self.gateway.answer_inbound
        if self.answerers > 1:
            self._answering = _Answering(self.gateway, self.answerers, self.nice)
            answer = self._answering.dispatch
        for name, step, ready in (
            ("saveit-inbox", answer, self.gateway.inbox_ready),
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
        if self._answering is not None:
            self._answering.join(timeout)
        self.gateway.delivery.handoff.release()

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


class _Answering:
    """The answerers behind the claiming thread: ``dispatch`` leases no more messages
    than there are idle answerers, so nothing claimed waits in a queue while its lease
    runs, and each guest's messages go to one answerer, in order."""

    def __init__(self, gateway: Gateway, answerers: int, nice: int) -> None:
        self.gateway = gateway
        self.idle = answerers
        self._lock = threading.Lock()
        self._work: queue.SimpleQueue[list[StoredMessage] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(
                target=self._answer, args=(nice,), name=f"saveit-answer-{n}", daemon=True
            )
            for n in range(answerers)
        ]
        for thread in self._threads:
            thread.start()

    def dispatch(self) -> int:
        with self._lock:
            idle = self.idle
        if idle <= 0:
            return 0  # an answerer that finishes rings ``inbox_ready``
        claimed = self.gateway.claim_inbound(idle)
        guests: dict[tuple[int, str, str], list[StoredMessage]] = {}
        for message in claimed:
            key = (message.restaurant_id, message.channel, message.address)
            guests.setdefault(key, []).append(message)
        with self._lock:
            self.idle -= len(guests)
        for messages in guests.values():
            self._work.put(messages)
        return len(claimed)

    def join(self, timeout: float) -> None:
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _answer(self, nice: int) -> None:
        lower_priority(nice)
        while (messages := self._work.get()) is not None:
            for message in messages:
                self.gateway.answer(message)  # logs its own failure; the lease then lapses
            with self._lock:
                self.idle += 1
            self.gateway.inbox_ready.set()
