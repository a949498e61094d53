"""`saveit worker`'s runtime in process: the relay runs on the caller's thread
beside the other parts, and everything stops when asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

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
