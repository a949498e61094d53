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

from saveit.observe import metrics
from saveit.store.audit import Overlap
from saveit.store.unit_of_work import Database, DatabaseLike, database_of

log = logging.getLogger("saveit.audit")

RECENT = timedelta(days=7)  # the periodic audit looks at bookings ending after this long ago


def audit(
    database: Database | DatabaseLike, *, ending_after: datetime | None = None
) -> list[Overlap]:
    with database_of(database).reading() as r:
        found = r.audit.overlaps(ending_after=ending_after)
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


def run(database: Database | DatabaseLike, stop: threading.Event, interval_s: float) -> None:
    """Audit recent bookings until ``stop`` is set."""
    db = database_of(database)
    while not stop.is_set():
        try:
            audit(db, ending_after=datetime.now(UTC) - RECENT)
        except Exception:
            log.exception("double-booking audit failed")
        stop.wait(interval_s)


def start(
    database: Database | DatabaseLike, stop: threading.Event, interval_s: float
) -> threading.Thread | None:
    if interval_s <= 0:
        return None
    thread = threading.Thread(
        target=run, args=(database, stop, interval_s), name="saveit-audit", daemon=True
    )
    thread.start()
    return thread
