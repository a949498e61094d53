"""The console's pages, one module each. Order matters: fixed paths first.

To add a page: write a module here with its ``router`` (and its nav entry, see
:mod:`saveit.console.nav`), then list it in :data:`PAGES`.
"""

from __future__ import annotations

from fastapi import APIRouter

from saveit.console import live
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
    tonight,
    tonight_new,
)

PAGES: tuple[APIRouter, ...] = (
    auth.router,
    home.router,
    staff.router,
    tonight.router,
    tonight_new.router,
    live.router,
    door.router,
    inbox.router,
    guests.router,
    analytics.router,
    setup.router,
    setup_tables.router,
    setup_rules.router,
    setup_channels.router,
)
