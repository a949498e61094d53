"""Database transaction timing as the ``saveit_db_transaction_duration_seconds``
metric (the measurement itself is the store's: :mod:`saveit.store.instrumentation`)."""

from __future__ import annotations

from saveit.observe import metrics
from saveit.store import instrumentation
from saveit.store.unit_of_work import Database, DatabaseLike


def time_transactions(database: Database | DatabaseLike) -> None:
    """Observe ``saveit_db_transaction_duration_seconds`` for every pooled unit of work."""
    instrumentation.time_transactions(database.engine, metrics.db_transactions.observe)
