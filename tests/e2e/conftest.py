"""What the browser tests share: one Playwright driver per test module.

Playwright's sync API runs its own event loop on the test's thread for as long as
the driver lives, and asyncio then sees a *running* loop there: a second
``sync_playwright()`` refuses ("using Playwright Sync API inside the asyncio
loop"), and so does any later test's ``asyncio.run()`` ("cannot be called from a
running event loop"). So the driver, and every browser launched from it, lives
only as long as one module: when xdist hands the same worker a test from another
module next, the driver has stopped and the loop is gone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BROWSER_MODULE
from tests.e2e.chaos_support import missing

CHROMIUM = os.environ.get("SAVEIT_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def playwright_driver(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's Playwright (under ``CI=true`` a missing Playwright or Chromium fails)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing("Playwright", str(exc))
    if not os.path.exists(CHROMIUM):
        missing("Chromium", f"no browser at {CHROMIUM}")
    with sync_playwright() as playwright:
        request.config.stash[BROWSER_MODULE] = request.node.nodeid.split("::")[0]
        yield playwright
        del request.config.stash[BROWSER_MODULE]
