"""Shared test helpers: a controllable clock and restaurant documents."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_date

DEMO_YAML = Path(__file__).resolve().parents[1] / "src" / "saveit" / "demo.yaml"


class FakeClock:
    """A clock tests move by hand; the booking engine reads it through ``clock()``."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def weekday_ahead_es(days: int = 2) -> str:
    """The Spanish name of the weekday ``days`` after today at the demo restaurant
    (Europe/Madrid), for a guest who asks for "el sábado": a fixed name is today
    once a week, and on that day's late evening no table is left to offer."""
    today = datetime.now(ZoneInfo("Europe/Madrid")).date()
    return format_date(today + timedelta(days=days), "EEEE", locale="es")


def demo_document(**overrides: Any) -> dict[str, Any]:
    """The demo restaurant's document, with top-level keys replaced."""
    doc = yaml.safe_load(DEMO_YAML.read_text())
    doc = copy.deepcopy(doc)
    doc.update(overrides)
    return doc


def assign_account(
    container: Any,
    slug: str,
    channel: str,
    address: str,
    settings: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Give ``slug`` a proven account, as the deployment admin assigns one (the way
    tests that are about something else set accounts up)."""
    from saveit.store import channel_accounts as accounts
    from saveit.store import restaurants as restaurant_store

    with container.engine.begin() as conn:
        accounts.put(
            conn,
            restaurant_store.id_of(conn, slug),
            channel,  # type: ignore[arg-type]
            address,
            settings or {},
            now or datetime.now(UTC),
            box=container.box,
            proven_by="admin",
        )
