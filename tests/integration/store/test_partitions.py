"""Monthly partitions of the append-only tables: made ahead, dropped after retention,
and migration 0011 carrying an existing database over with its guarantees."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime

import psycopg
import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import IntegrityError

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.messages import InboundMessage
from saveit.events.processed import SqlProcessedStore
from saveit.store import messages
from saveit.store.database import create_db_engine
from saveit.store.message_rows import INBOX_NOTICE
from saveit.store.migrate import upgrade
from saveit.store.partitions import PARTITIONED, PartitionKeeper, monthly_partitions
from saveit.store.schema import channel_messages, outbox, processed_events, reservation_log
from tests.integration.store.rows import bare_restaurant
from tests.support import FakeClock, demo_document

GUEST = Actor("guest", "web", "webchat")
AT = datetime(2026, 6, 1, tzinfo=UTC)
RETENTION = {"outbox": 3, "processed_events": 3, "channel_messages": 3, "reservation_log": 24}


def _keeper(engine: Engine, now: datetime) -> PartitionKeeper:
    return PartitionKeeper(engine, months_ahead=3, retention_months=RETENTION, clock=lambda: now)


def _restaurant(engine: Engine) -> int:
    with engine.begin() as conn:
        return bare_restaurant(conn)


def _inbound(provider_id: str) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        provider_message_id=provider_id,
        sender="+34600000001",
        recipient="+34900000000",
        text="hola",
        sent_at=datetime(2026, 6, 1, tzinfo=UTC),
    )


def _stored_count(engine: Engine, *provider_ids: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(channel_messages)
                .where(channel_messages.c.provider_message_id.in_(provider_ids))
            ).scalar_one()
        )


def test_sqlite_tables_stay_plain_and_the_job_does_nothing(tmp_path: object) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/plain.db")
    upgrade(engine)
    assert _keeper(engine, datetime(2027, 5, 15, tzinfo=UTC)).run().created == []
    with engine.connect() as conn:
        names = {
            row[0]
            for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        }
    engine.dispose()
    assert set(PARTITIONED) <= names
    assert not any(name.endswith("_default") for name in names)


@pytest.mark.postgres
def test_the_job_creates_partitions_months_ahead_and_moves_strays(own_pg: str) -> None:
    engine = create_db_engine(own_pg)
    upgrade(engine)
    with engine.begin() as conn:  # a row for a month nobody made yet: the default catches it
        conn.execute(
            processed_events.insert().values(
                consumer="c", event_id="stray", processed_at=datetime(2031, 2, 3, tzinfo=UTC)
            )
        )
    run = _keeper(engine, datetime(2031, 1, 20, tzinfo=UTC)).run()
    with engine.connect() as conn:
        for table in PARTITIONED:
            months = monthly_partitions(conn, table)
            for month in (date(2031, 1, 1), date(2031, 2, 1), date(2031, 3, 1), date(2031, 4, 1)):
                assert month in months, (table, month)
            assert date(2031, 5, 1) not in months
        home = conn.execute(
            text("SELECT tableoid::regclass::text FROM processed_events WHERE event_id = 'stray'")
        ).scalar_one()
    assert "processed_events_p203102" in run.created
    assert home == "processed_events_p203102"
    # A second run the same month has nothing to do.
    assert _keeper(engine, datetime(2031, 1, 21, tzinfo=UTC)).run().created == []
    # A default partition someone dropped comes back, so writes never lack a home.
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE outbox_default"))
    assert _keeper(engine, datetime(2031, 1, 22, tzinfo=UTC)).run().created == ["outbox_default"]
    engine.dispose()


@pytest.mark.postgres
def test_retention_drops_old_months_but_never_unfinished_work(own_pg: str) -> None:
    engine = create_db_engine(own_pg)
    upgrade(engine)
    _keeper(engine, datetime(2030, 1, 10, tzinfo=UTC)).run()
    jan, feb = datetime(2030, 1, 15, tzinfo=UTC), datetime(2030, 2, 15, tzinfo=UTC)
    with engine.begin() as conn:
        restaurant = bare_restaurant(conn)
        for event_id, at, published in (("a", jan, jan), ("b", feb, None)):
            conn.execute(
                outbox.insert().values(
                    event_id=event_id,
                    restaurant_id=restaurant,
                    type="t",
                    payload={},
                    created_at=at,
                    published_at=published,
                )
            )
        for event_id, at in (("a", jan), ("b", feb)):
            conn.execute(
                processed_events.insert().values(consumer="c", event_id=event_id, processed_at=at)
            )
    run = _keeper(engine, datetime(2030, 6, 15, tzinfo=UTC)).run()
    assert {"outbox_p203001", "processed_events_p203001", "processed_events_p203002"} <= set(
        run.dropped
    )
    assert "outbox_p203002" not in run.dropped  # an event not yet published stays
    assert "reservation_log_p203001" not in run.dropped  # the audit log keeps 24 months
    with engine.connect() as conn:
        assert date(2030, 2, 1) in monthly_partitions(conn, "outbox")
        assert date(2030, 3, 1) in monthly_partitions(conn, "outbox")  # not past retention
        assert conn.execute(select(outbox.c.event_id)).scalars().all() == ["b"]
        assert conn.execute(select(func.count()).select_from(processed_events)).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
def test_migration_carries_existing_rows_and_keeps_dedup_and_the_audit_trigger(
    own_pg: str, tmp_path: object
) -> None:
    engine = create_db_engine(own_pg)
    upgrade(engine, "0006")
    settings = Settings(
        database_url=own_pg,
        data_dir=tmp_path,  # type: ignore[arg-type]
        secret_key="test-secret-key",  # type: ignore[arg-type]
        relay_in_process=False,
    )
    container = build(settings, clock=FakeClock(), migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    # Guests named only, so they take the transactional path: a booking in one
    # statement needs migration 0015 (``saveit_refuse``), and this schema is 0006's.
    codes = [
        container.booking.create(
            CreateReservation(
                "demo",
                datetime(2026, 6, 3 + i, 19, 0, tzinfo=UTC),
                2,
                GuestDetails(name=f"G{i}"),
                idempotency_key=f"seed-{i}",
            ),
            GUEST,
        ).reservation.code
        for i in range(3)
    ]
    with engine.begin() as conn:
        restaurant = conn.execute(text("SELECT id FROM restaurants")).scalar_one()
        messages.insert_inbound_many(conn, [(restaurant, _inbound("SM1"))], FakeClock()())
    SqlProcessedStore(engine).mark_many("notify", ["e1", "e2"])
    with engine.connect() as conn:
        before = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in PARTITIONED
        }
        last_log_id = conn.execute(select(func.max(reservation_log.c.id))).scalar_one()
    with engine.begin() as conn:  # as a row-level security migration before this one leaves it
        conn.execute(text("ALTER TABLE outbox ENABLE ROW LEVEL SECURITY"))
        conn.execute(
            text(
                "CREATE POLICY tenant ON outbox USING "
                "(restaurant_id = current_setting('saveit.restaurant_id', true)::bigint)"
            )
        )
        conn.execute(text("GRANT SELECT ON outbox TO PUBLIC"))
    container.close()

    upgrade(engine)

    with engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text("SELECT relname, relkind FROM pg_class WHERE relname = ANY(:t)"),
                {"t": list(PARTITIONED)},
            ).all()
        )
        after = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in PARTITIONED
        }
    assert kinds == dict.fromkeys(PARTITIONED, "p")
    with engine.connect() as conn:  # row-level security and grants came along
        policies = (
            conn.execute(text("SELECT polname FROM pg_policy WHERE polrelid = 'outbox'::regclass"))
            .scalars()
            .all()
        )
        assert set(policies) == {"tenant", "tenant_isolation"}  # this test's, and 0010's
        assert set(
            conn.execute(
                text(
                    "SELECT c.relrowsecurity FROM pg_class c JOIN pg_inherits i "
                    "ON i.inhrelid = c.oid WHERE i.inhparent = 'outbox'::regclass "
                    "UNION ALL SELECT relrowsecurity FROM pg_class WHERE relname = 'outbox'"
                )
            ).scalars()
        ) == {True}
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a "
                    "WHERE c.relname = 'outbox' AND a.grantee = 0 AND a.privilege_type = 'SELECT'"
                )
            ).scalar_one()
            == 1
        )
    assert after == before
    assert before["reservation_log"] >= 3
    assert before["outbox"] >= 3

    # Dedup still holds: the webhook retried after the migration inserts nothing,
    # nor does a redelivered event; new keys still go in.
    with engine.begin() as conn:
        again, fresh = messages.insert_inbound_many(
            conn, [(restaurant, _inbound("SM1")), (restaurant, _inbound("SM2"))], FakeClock()()
        )
    assert again is None
    assert fresh is not None
    SqlProcessedStore(engine).mark_many("notify", ["e1", "e3"])
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(channel_messages)).scalar_one()
            == before["channel_messages"] + 1
        )
        assert sorted(conn.execute(select(processed_events.c.event_id)).scalars().all()) == [
            "e1",
            "e2",
            "e3",
        ]

    # The audit log is still append-only, and new entries continue its id sequence.
    for statement in ("UPDATE reservation_log SET actor = 'x'", "DELETE FROM reservation_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    container = build(settings, clock=FakeClock(), migrate=False)
    container.booking.cancel(codes[0], GUEST, reason="plans changed")
    with engine.connect() as conn:
        assert conn.execute(select(func.max(reservation_log.c.id))).scalar_one() > last_log_id
    for code in codes:
        assert container.booking.get(code).code == code
    container.close()
    engine.dispose()


@pytest.mark.postgres
def test_the_scheduler_runs_the_partition_job(own_pg: str, tmp_path: object) -> None:
    engine = create_db_engine(own_pg)
    upgrade(engine)
    engine.dispose()
    settings = Settings(
        database_url=own_pg,
        data_dir=tmp_path,  # type: ignore[arg-type]
        secret_key="test-secret-key",  # type: ignore[arg-type]
        relay_in_process=False,
    )
    container = build(settings, clock=FakeClock(datetime(2032, 1, 5, tzinfo=UTC)), migrate=False)
    assert container.scheduler is not None
    first = container.scheduler.tick()
    again = container.scheduler.tick()  # within the check interval: not run again
    with container.engine.connect() as conn:
        assert date(2032, 4, 1) in monthly_partitions(conn, "reservation_log")
    container.close()
    assert first.partitions_created == 4 * len(PARTITIONED)
    assert again.partitions_created == 0


@pytest.mark.postgres
def test_two_transactions_racing_on_one_webhook_store_it_once(own_pg: str) -> None:
    """Without a unique index on (channel, provider_message_id), the advisory lock is
    what keeps a webhook delivered twice at once from being stored twice: the
    second transaction waits for the first and then finds its row."""
    engine = create_db_engine(own_pg)
    upgrade(engine)
    restaurant = _restaurant(engine)
    first_inserted = threading.Event()
    results: dict[str, list[int | None]] = {}

    def first() -> None:
        with engine.begin() as conn:
            results["first"] = messages.insert_inbound_many(
                conn, [(restaurant, _inbound("SM-race"))], datetime(2026, 6, 1, tzinfo=UTC)
            )
            first_inserted.set()
            time.sleep(0.5)  # still uncommitted while the second one arrives

    def second() -> None:
        first_inserted.wait(5)
        with engine.begin() as conn:
            results["second"] = messages.insert_inbound_many(
                conn, [(restaurant, _inbound("SM-race"))], datetime(2026, 6, 2, tzinfo=UTC)
            )

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    engine.dispose()
    assert results["first"][0] is not None
    assert results["second"] == [None]
    assert _stored_count(engine, "SM-race") == 1


@pytest.mark.postgres
def test_the_job_gives_way_to_a_transaction_holding_a_table_it_needs(own_pg: str) -> None:
    """A guest's transaction has written a table that channel_messages references; the
    job, making next months' partitions, needs that table for the new partition's
    foreign keys. Fails before the fix: the job waited behind the guest while holding
    the parent, and a guest writing channel_messages next was aborted by the deadlock
    check (seen in CI: a web chat answer waited a lease for it)."""
    engine = create_db_engine(own_pg)
    upgrade(engine)
    with engine.connect() as conn:
        referenced = (
            conn.execute(
                text(
                    "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint "
                    "WHERE contype = 'f' AND conrelid = 'channel_messages'::regclass"
                )
            )
            .scalars()
            .all()
        )
    assert referenced
    guest = engine.connect()
    guest_tx = guest.begin()
    guest.execute(text(f"LOCK TABLE {referenced[0]} IN ROW EXCLUSIVE MODE"))
    outcome: list[BaseException | None] = []

    def job() -> None:
        try:
            _keeper(engine, datetime(2032, 1, 20, tzinfo=UTC)).run()
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=job, daemon=True)
    began = time.monotonic()
    worker.start()
    worker.join(timeout=3)
    waited = time.monotonic() - began
    guest_tx.rollback()
    guest.close()
    worker.join(timeout=30)
    engine.dispose()
    assert waited < 3, "the job waited for the guest's transaction"
    assert outcome
    assert outcome[0] is not None  # it gave up, to run again later


@pytest.mark.postgres
def test_a_webhook_with_awkward_characters_is_stored_exactly_as_sent(own_pg: str) -> None:
    """Rows reach a partitioned table as one JSON document: quotes, backslashes, line
    breaks, an escaped NUL written as text, emoji and a far-away offset come back
    as they went in."""
    engine = create_db_engine(own_pg)
    upgrade(engine)
    restaurant = _restaurant(engine)
    said = 'Mesa "junto a la ventana"\\n, C:\\tmp\\ \\u0000 ok\n2ª línea 🍷 ‏עברית'
    message = replace(
        _inbound("SM-awkward"),
        text=said,
        sender_name='Ana "la del 4º"',
        raw=json.dumps({"Body": said}),
    )
    at = datetime(2026, 6, 1, 23, 59, 59, 123456, tzinfo=UTC)
    with engine.begin() as conn:
        [stored_id] = messages.insert_inbound_many(conn, [(restaurant, message)], at)
    with engine.connect() as conn:
        row = conn.execute(select(channel_messages).where(channel_messages.c.id == stored_id)).one()
    engine.dispose()
    assert row.text == said
    assert row.raw == message.raw
    assert row.body["sender_name"] == 'Ana "la del 4º"'
    assert row.created_at == at
    assert row.status == "received"


@pytest.mark.postgres
@pytest.mark.parametrize("statements", ["together", "one by one"])
def test_a_stored_webhook_wakes_the_inbox_and_a_repeat_is_told_apart(
    own_pg: str, statements: str
) -> None:
    """The lock, the insert and the inbox's NOTIFY travel together through psycopg,
    and one by one when something listens to each statement (the tracer does):
    either way the worker listening on the inbox hears of the new message once
    the transaction commits, and a repeat of it is answered as a duplicate."""
    engine = create_db_engine(own_pg)
    upgrade(engine)
    restaurant = _restaurant(engine)
    seen: list[str] = []
    if statements == "one by one":
        event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with psycopg.connect(own_pg.replace("+psycopg", ""), autocommit=True) as listener:
        listener.execute(f"LISTEN {INBOX_NOTICE}")
        with engine.begin() as conn:
            first = messages.insert_inbound_many(
                conn, [(restaurant, _inbound("SM-wake")), (restaurant, _inbound("SM-wake"))], AT
            )
        heard = [n.channel for n in listener.notifies(timeout=2, stop_after=1)]
        with engine.begin() as conn:
            again = messages.insert_inbound_many(conn, [(restaurant, _inbound("SM-wake"))], AT)
    engine.dispose()
    assert first[0] is not None
    assert first[1] is None  # twice in one group: stored once
    assert again == [None]
    assert heard == [INBOX_NOTICE]
    assert _stored_count(engine, "SM-wake") == 1
    if statements == "one by one":
        assert any("pg_advisory_xact_lock" in s for s in seen)
        assert any(s.startswith("INSERT INTO channel_messages") for s in seen)
        assert f"NOTIFY {INBOX_NOTICE}" in seen


@pytest.mark.postgres
def test_a_group_the_database_refuses_fails_as_sqlalchemys_error_and_stores_nothing(
    own_pg: str,
) -> None:
    """A statement that fails inside the pipeline surfaces as SQLAlchemy's error, as
    any statement's does: the gateway tells an unreachable database from a bad
    group by it, and stores the group's webhooks one by one only for the latter.
    The connection goes back to the pool usable."""
    engine = create_db_engine(own_pg, pool_size=1)
    upgrade(engine)
    restaurant = _restaurant(engine)
    no_such_restaurant = restaurant + 1000
    with pytest.raises(IntegrityError), engine.begin() as conn:
        messages.insert_inbound_many(
            conn,
            [(restaurant, _inbound("SM-ok")), (no_such_restaurant, _inbound("SM-orphan"))],
            AT,
        )
    with engine.begin() as conn:  # the same pooled connection, after the rollback
        [stored] = messages.insert_inbound_many(conn, [(restaurant, _inbound("SM-later"))], AT)
    engine.dispose()
    assert stored is not None
    assert _stored_count(engine, "SM-ok", "SM-orphan") == 0
    assert _stored_count(engine, "SM-later") == 1
