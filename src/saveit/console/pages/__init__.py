"""The console's pages, one module each. Order matters: fixed paths first.

To add a page: write a module here with its ``router`` (and its nav entry, see
:mod:`saveit.console.nav`), then list it in :data:`PAGES`.
"""

from __future__ import annotations

from fastapi import APIRouter

from saveit.console.pages import (
    analytics,
    auth,
    door,
    guests,
    home,
    inbox,
    setup,
    setup_channels,
    setup_rules,
    setup_tables,
    staff,
)

PAGES: tuple[APIRouter, ...] = (
    auth.router,
    home.router,
    staff.router,
    door.router,
    inbox.router,
    guests.router,
    analytics.router,
    setup.router,
    setup_tables.router,
    setup_rules.router,
    setup_channels.router,
)
