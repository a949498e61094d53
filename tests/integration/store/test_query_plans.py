"""The worker's statements read the rows they are about, not the tables around them,
even where PostgreSQL has no statistics yet.

A new month's partition and a fresh database start without statistics, and
autovacuum analyses a table only after a minute or more of writes. Until then the
planner guesses; ``bench/booking.py`` (pg_stat_statements, auto_explain) caught the
worker's event deduplication hashing all of ``processed_events`` on every batch
and the daily analytics walking a restaurant's whole past for every booking of the
day. Each test fills a table the way a busy hour does, with autovacuum off so that
no analysis can come in between, and counts the rows PostgreSQL read for one call
(``pg_stat_xact_user_tables``).

The deduplication tests fail with their statements as they were. The relay's and
the day-visit tests did not bring the bench's plans back here (the planner chose
well even with the statement prepared on an empty table); they hold the behaviour,
and the bench's per-statement figures (bench/README.md) are what showed the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from saveit.store import analytics_facts, outbox, processed
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from tests.integration.store.rows import bare_restaurant

NOW = datetime.now(UTC)
BUSY_HOUR = 5_000  # rows already in the table when the call comes
A_BUSY_MONTH = 60_000  # the relay's batch (200) is then a small share of a guess
# A statement the worker repeats is prepared by psycopg after 5 runs, and PostgreSQL
# may then plan it once for any parameters: each test makes its call this often.
REPEATS = 12


@pytest.fixture
def engine(own_pg: str) -> Iterator[Engine]:
    db = create_db_engine(own_pg)
    upgrade(db)
    with db.begin() as conn:
        for table in ("processed_events", "outbox", "reservations"):
            for (leaf,) in conn.execute(
                text(
                    "SELECT relid::regclass::text FROM pg_partition_tree(CAST(:t AS regclass)) "
                    "WHERE isleaf"
                ),
                {"t": table},
            ):
                conn.execute(text(f"ALTER TABLE {leaf} SET (autovacuum_enabled = false)"))
    yield db
    db.dispose()


def rows_read(conn: Connection, table: str) -> int:
    """Rows this backend has read from ``table`` and its partitions, by any scan, and
    not yet reported to the statistics (a count to take the difference of: since
    PostgreSQL 15 it can span the last few transactions)."""
    return int(
        conn.execute(
            text(
                "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) "
                "FROM pg_stat_xact_user_tables WHERE relid IN "
                "(SELECT relid FROM pg_partition_tree(CAST(:t AS regclass)))"
            ),
            {"t": table},
        ).scalar_one()
    )


def handled_before(engine: Engine) -> None:
    """A busy hour of events the notifier has handled."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO processed_events (consumer, event_id, processed_at) "
                "SELECT 'notifier', gen_random_uuid()::text, now() FROM generate_series(1, :n)"
            ),
            {"n": BUSY_HOUR},
        )


def test_marking_a_batch_handled_probes_its_ids_not_the_table(engine: Engine) -> None:
    handled_before(engine)
    batch = [str(uuid.uuid4()) for _ in range(10)]
    with engine.begin() as conn:
        before = rows_read(conn, "processed_events")
        processed.mark(conn, "notifier", batch, NOW)
        assert rows_read(conn, "processed_events") - before <= len(batch)
    with engine.begin() as conn:
        processed.mark(conn, "notifier", batch, NOW)  # a redelivery: kept once
        assert conn.execute(
            text("SELECT count(*) FROM processed_events WHERE event_id = ANY(:ids)"),
            {"ids": batch},
        ).scalar_one() == len(batch)


def test_asking_which_of_a_batch_were_handled_probes_its_ids(engine: Engine) -> None:
    handled_before(engine)
    with engine.begin() as conn:
        handled = [str(uuid.uuid4()) for _ in range(3)]
        processed.mark(conn, "notifier", handled, NOW)
    batch = [*handled, *(str(uuid.uuid4()) for _ in range(7))]
    with engine.begin() as conn:
        before = rows_read(conn, "processed_events")
        assert processed.seen(conn, "notifier", batch) == set(handled)
        assert processed.seen(conn, "waitlist", batch) == set()
        assert rows_read(conn, "processed_events") - before <= len(handled)


def test_the_relay_reads_the_unpublished_rows_not_the_published_ones(engine: Engine) -> None:
    """The relay polls from the month's first minute; the month then fills up."""
    with engine.begin() as conn:
        rid = bare_restaurant(conn)
    for _ in range(REPEATS):
        with engine.begin() as conn:
            assert outbox.lock_unpublished(conn, 200) == []
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox (event_id, restaurant_id, type, payload, created_at, "
                "published_at) SELECT gen_random_uuid()::text, :r, 'reservation.created', "
                "'{}', now(), CASE WHEN g > :n THEN NULL ELSE now() END "
                "FROM generate_series(1, :n + 5) AS g"
            ),
            {"r": rid, "n": A_BUSY_MONTH},
        )
    with engine.begin() as conn:
        before = rows_read(conn, "outbox")
        batch = outbox.lock_unpublished(conn, 200)
        assert rows_read(conn, "outbox") - before <= 5
        assert len(batch) == 5
        assert [e.outbox_id for e in batch] == sorted(e.outbox_id for e in batch)


def test_a_days_visits_look_up_each_guests_past_not_the_restaurants(engine: Engine) -> None:
    """The analytics read days from the restaurant's first booking on; two months
    later it has a seated history, and the day read has one booking per guest, each
    of whom came once before."""
    day = datetime(2026, 12, 20, tzinfo=UTC)
    with engine.begin() as conn:
        rid = bare_restaurant(conn)
    for _ in range(REPEATS):
        with engine.begin() as conn:
            assert analytics_facts.visit_facts(conn, rid, day, day + timedelta(days=1)) == []
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO guests (restaurant_id, name, phone, email, language, notes, "
                "allergies, tags, visit_count, no_show_count, created_at, updated_at) "
                "SELECT :r, 'G' || g, NULL, NULL, NULL, '', '[]', '[]', 0, 0, now(), now() "
                "FROM generate_series(1, :n) AS g"
            ),
            {"r": rid, "n": BUSY_HOUR},
        )
        conn.execute(
            text(
                "INSERT INTO reservations (code, restaurant_id, guest_id, party_size, start_at, "
                "end_at, buffer_minutes, status, source, notes, created_by, created_at, "
                "updated_at, version) "
                "SELECT 'P' || g.id, :r, g.id, 2, :day - (g.id % 60 + 1) * interval '1 day', "
                ":day - (g.id % 60 + 1) * interval '1 day' + interval '90 minutes', 0, "
                "'completed', 'web', '', 'guest', now(), now(), 1 FROM guests AS g"
            ),
            {"r": rid, "day": day},
        )
        conn.execute(
            text(
                "INSERT INTO reservations (code, restaurant_id, guest_id, party_size, start_at, "
                "end_at, buffer_minutes, status, source, notes, created_by, created_at, "
                "updated_at, version) "
                "SELECT 'D' || g.id, :r, g.id, 2, :day + interval '20 hours', "
                ":day + interval '21 hours 30 minutes', 0, 'confirmed', 'web', '', 'guest', "
                "now(), now(), 1 FROM guests AS g WHERE g.id <= 40"
            ),
            {"r": rid, "day": day},
        )
    with engine.begin() as conn:
        before = rows_read(conn, "reservations")
        visits = analytics_facts.visit_facts(conn, rid, day, day + timedelta(days=1))
        assert rows_read(conn, "reservations") - before <= 40 * 3
        assert len(visits) == 40
        assert all(v.returning for v in visits)
