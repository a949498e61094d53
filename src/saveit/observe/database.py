"""Database transaction timing, from SQLAlchemy's own connection events."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event

from saveit.observe import metrics

_STARTED = "saveit_tx_started"


def time_transactions(engine: Engine) -> None:
    """Observe ``saveit_db_transaction_duration_seconds`` for every BEGIN..COMMIT/ROLLBACK."""

    def began(conn: Any) -> None:
        conn.info[_STARTED] = time.perf_counter()

    def ended(conn: Any) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is not None:
            metrics.db_transactions.observe(time.perf_counter() - started)

    event.listen(engine, "begin", began)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
