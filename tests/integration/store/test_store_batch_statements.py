"""The worker's per-batch statements keep one text on PostgreSQL whatever the batch's size.

A batch's size varies with the load. With an expanding ``IN`` each size was a new
statement: parsed and planned again by the server, and prepared again by psycopg
after five uses of that size. Bound as one array (``= ANY``), a statement is
prepared once and its plan reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from saveit.store import notifications, outbox, processed, waitlist
from saveit.store.database import create_db_engine
from saveit.store.unit_of_work import Database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SIZES = (1, 2, 5, 9)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(create_db_engine(db_url))
    yield database
    database.dispose()


def statements_of(db: Database, run: Any) -> set[str]:
    seen: set[str] = set()

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.add(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        for size in SIZES:
            with db.unit_of_work() as uow:
                run(uow.connection, size)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return seen


CASES = {
    "processed events seen": lambda conn, n: processed.seen(
        conn, "notifier", [f"e{i}" for i in range(n)]
    ),
    "outbox rows published": lambda conn, n: outbox.mark_published(conn, list(range(n)), NOW),
    "guests' reach": lambda conn, n: notifications.reach_many(
        conn, list(range(n)), ["email", "sms", "whatsapp"][: 1 + n % 3]
    ),
    "guests waiting": lambda conn, n: waitlist.guests_waiting(conn, {(1, g) for g in range(n)}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_batch_statement_has_one_text_for_every_size(db: Database, case: str) -> None:
    """Fails with an expanding ``IN`` on PostgreSQL: four sizes, four statements."""
    texts = statements_of(db, CASES[case])
    if db.engine.dialect.name != "postgresql":
        assert texts  # SQLite has no arrays: an expanding IN, prepared by nobody
        return
    assert len(texts) == 1, texts
