"""`saveit worker`'s runtime in process: the relay runs on the caller's thread
beside the other parts, and everything stops when asked."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from saveit.bootstrap import Container
from saveit.runtime import Plan, Runtime


def test_the_worker_runtime_publishes_the_outbox_until_it_is_stopped(
    container: Container, make_bookings: Callable[[int], list[str]]
) -> None:
    container.bus.ensure_group("watcher")
    # No metrics server: the worker's port may be taken on a machine running tests.
    runtime = Runtime(container, replace(Plan.worker(container.settings), metrics_server=False))
    runtime.start()
    running = threading.Thread(target=runtime.run, name="test-worker-main")
    running.start()
    try:
        expected = make_bookings(2)
        seen: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < len(expected):
            seen += [d.event.type for d in container.bus.read("watcher", "test", block_ms=200)]
    finally:
        runtime.stopping.set()
        running.join(15)
        runtime.stop()
    assert seen == expected
    assert not running.is_alive()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
def test_the_worker_consumers_yield_the_cpu_and_the_relay_does_not(container: Container) -> None:
    """Notifications, waitlist offers and the figures follow a booking by moments: in
    a burst the API processes go first. The relay (live screens, cache
    invalidation) keeps its priority."""

    def nice_of(thread: threading.Thread) -> int:
        with open(f"/proc/self/task/{thread.native_id}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[16])  # field 19: nice

    plan = replace(Plan.worker(container.settings), metrics_server=False, consumers_nice=6)
    runtime = Runtime(container, plan)
    runtime.start()
    running = threading.Thread(target=runtime.run, name="test-worker-main")
    running.start()
    try:
        before = nice_of(running)
        names = {t.name: nice_of(t) for t in threading.enumerate() if t.name.startswith("saveit-")}
    finally:
        runtime.stopping.set()
        running.join(15)
        runtime.stop()
    lowered = {name for name, nice in names.items() if nice == before + 6}
    assert lowered == {
        "saveit-notifier",
        "saveit-scheduler",
        "saveit-waitlist",
        "saveit-waitlist-sweep",
        "saveit-analytics",
        "saveit-analytics-days",
    }
    assert names["saveit-audit"] == before
    assert before == nice_of(threading.current_thread())  # the relay runs at the caller's
