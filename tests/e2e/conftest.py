"""What the browser tests share: one Playwright driver per test process.

Playwright's sync API runs its own event loop, and a second ``sync_playwright()``
started while one is running in the same process refuses ("using Playwright Sync
API inside the asyncio loop"). The console's browser is session-scoped and the
web chat's is module-scoped, and xdist may run both in one worker, so both launch
their Chromium from this one driver.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.chaos_support import missing

CHROMIUM = os.environ.get("SAVEIT_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """The process's Playwright (under ``CI=true`` a missing Playwright or Chromium fails)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing("Playwright", str(exc))
    if not os.path.exists(CHROMIUM):
        missing("Chromium", f"no browser at {CHROMIUM}")
    with sync_playwright() as playwright:
        yield playwright
