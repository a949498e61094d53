"""The double-booking auditor: checks, from the reservations themselves, that no
two active bookings hold one table at overlapping times (buffers included).

``saveit worker`` runs it every ``SAVEIT_AUDIT_INTERVAL_S`` and ``saveit audit``
on demand. A finding sets ``saveit_double_bookings_detected`` (alert on > 0),
logs an ERROR naming the codes, the table and the times (never a guest's data),
and makes ``saveit audit`` exit non-zero.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from saveit.observe import metrics
from saveit.store.audit import Overlap, overlaps
from saveit.store.database import reading

log = logging.getLogger("saveit.audit")

RECENT = timedelta(days=7)  # the periodic audit looks at bookings ending after this long ago


def audit(engine: Engine, *, ending_after: datetime | None = None) -> list[Overlap]:
    with reading(engine) as conn:
        found = overlaps(conn, ending_after=ending_after)
    metrics.double_bookings.set(len(found))
    metrics.scheduler_runs.labels("audit").inc()
    for pair in found:
        log.error(
            "double booking: restaurant %d table %s: %s [%s, %s) overlaps %s [%s, %s)",
            pair.restaurant_id,
            pair.table,
            pair.first,
            pair.first_start.isoformat(),
            pair.first_stop.isoformat(),
            pair.second,
            pair.second_start.isoformat(),
            pair.second_stop.isoformat(),
        )
    return found


def run(engine: Engine, stop: threading.Event, interval_s: float) -> None:
    """Audit recent bookings until ``stop`` is set."""
    while not stop.is_set():
        try:
            audit(engine, ending_after=datetime.now(UTC) - RECENT)
        except Exception:
            log.exception("double-booking audit failed")
        stop.wait(interval_s)


def start(engine: Engine, stop: threading.Event, interval_s: float) -> threading.Thread | None:
    if interval_s <= 0:
        return None
    thread = threading.Thread(
        target=run, args=(engine, stop, interval_s), name="saveit-audit", daemon=True
    )
    thread.start()
    return thread
