"""A page that holds every request thread (``SAVEIT_REQUEST_THREADS=1``): what the
lanes' tests make their requests beside."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient


@contextmanager
def request_thread_held(
    app: FastAPI, client: TestClient, pool: ThreadPoolExecutor
) -> Iterator[None]:
    """For the block, a sync endpoint on the request threads (there is one) holds
    its thread, as a booking in its transaction or a slow export would; after the
    block it is released and must have answered."""
    entered, release = threading.Event(), threading.Event()

    @app.get("/test/hold")
    def hold() -> dict[str, bool]:
        entered.set()
        return {"released": release.wait(30)}

    held: Future[object] = pool.submit(client.get, "/test/hold")
    try:
        assert entered.wait(10), "the holding request never reached its thread"
        yield
    finally:
        release.set()
    assert held.result(timeout=10).json() == {"released": True}  # type: ignore[attr-defined]
