"""Gauges read when ``/metrics`` is scraped: the outbox backlog, the relay's lag and
each consumer group's lag. One indexed query and one bus call per scrape, none
per request."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from saveit.observe.metrics import ScrapeGauges
from saveit.store.unit_of_work import Database, DatabaseLike, database_of


def scrape_gauges(
    database: Database | DatabaseLike,
    bus: Any,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ScrapeGauges:
    gauges = ScrapeGauges()
    cached: dict[str, tuple[int, datetime | None]] = {}
    db = database_of(database)

    def backlog() -> tuple[int, datetime | None]:
        with db.reading() as r:
            cached["now"] = r.outbox.backlog()
        return cached["now"]

    def rows() -> Iterable[tuple[tuple[str, ...], float]]:
        return [((), float(backlog()[0]))]

    def lag() -> Iterable[tuple[tuple[str, ...], float]]:
        _, oldest = cached.pop("now") if "now" in cached else backlog()
        seconds = 0.0 if oldest is None else max(0.0, (clock() - oldest).total_seconds())
        return [((), seconds)]

    def consumers() -> Iterable[tuple[tuple[str, ...], float]]:
        group_lag = getattr(bus, "group_lag", None)
        if group_lag is None:
            return []
        return [((group,), float(n)) for group, n in sorted(group_lag().items())]

    gauges.add("saveit_outbox_backlog", "Outbox events not yet published to the bus.", [], rows)
    gauges.add("saveit_relay_lag_seconds", "Age of the oldest unpublished outbox event.", [], lag)
    gauges.add(
        "saveit_consumer_lag",
        "Events of the bus a consumer group has not handled yet (undelivered + pending).",
        ["group"],
        consumers,
    )
    return gauges
