"""Database transaction timing, from the connection pool's own events.

Every unit of work here is one ``engine.begin()`` or ``reading()`` block, which
checks a connection out, runs one transaction and checks it back in, so the
time a connection is out of the pool is the transaction's time. Pool events are
used rather than the connection's ``begin``/``commit`` events because those
switch every statement of every connection onto SQLAlchemy's slower
event-dispatching path; these cost two clock reads per transaction.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event

from saveit.observe import metrics

_STARTED = "saveit_tx_started"


def time_transactions(engine: Engine) -> None:
    """Observe ``saveit_db_transaction_duration_seconds`` for every pooled unit of work."""

    def checked_out(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info[_STARTED] = time.perf_counter()

    def checked_in(_dbapi: Any, record: Any) -> None:
        started = record.info.pop(_STARTED, None)
        if started is not None:
            metrics.db_transactions.observe(time.perf_counter() - started)

    event.listen(engine.pool, "checkout", checked_out)
    event.listen(engine.pool, "checkin", checked_in)
