"""The loops that answer stored messages and deliver queued ones.

They run in every API process (a process's own webhook wakes them at once)
and in ``saveit worker`` (which sweeps up what any process left behind, e.g.
after a crash). Leases in the messages table keep two loops off one message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from saveit.channels.gateway import Gateway

log = logging.getLogger(__name__)


class ChannelWorkers:
    def __init__(self, gateway: Gateway, *, poll_s: float = 0.2) -> None:
        self.gateway = gateway
        self.poll_s = poll_s
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

    def join(self, timeout: float = 10.0) -> None:
        self.gateway.inbox_ready.set()
        self.gateway.delivery.ready.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, step: Callable[[], int], ready: threading.Event, stop: threading.Event) -> None:
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
