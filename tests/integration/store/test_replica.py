"""Lag-tolerant reads on a real streaming replica; writes and read-backs on the primary;
back to the primary when the replica lags or is gone.

The replica is a second PostgreSQL cluster made with ``pg_basebackup -R`` from
the test server (see ``tests/integration/pg_replica.py`` for what that needs).
Under ``CI=true`` these tests must run: a machine that cannot start the
replica fails them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from tests.conftest import IN_CI, PG_BASE, _with_database
from tests.integration.store.pg_replica import Replica, ReplicaUnavailable, start_replica
from tests.support import FakeClock, demo_document

pytestmark = pytest.mark.postgres

GUEST = Actor("guest", "web", "webchat")
DAY = date(2026, 6, 10)


@pytest.fixture(scope="session")
def pg_replica() -> Iterator[Replica]:
    try:
        replica = start_replica(PG_BASE)
    except (ReplicaUnavailable, psycopg.OperationalError) as exc:
        if IN_CI:
            pytest.fail(f"the read-replica tests need a replica under CI=true: {exc}")
        pytest.skip(f"no replica on this machine: {exc}")
    yield replica
    replica.remove()


@pytest.fixture
def replicated_db(pg_replica: Replica) -> Iterator[tuple[str, str]]:
    """A migrated database on the primary, and its URL on the replica."""
    name = f"saveit_replica_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    primary = _with_database(PG_BASE, name)
    engine = create_db_engine(primary)
    upgrade(engine)
    engine.dispose()
    if not pg_replica.running():
        pg_replica.start()
    pg_replica.wait_for_database(name)
    yield primary, pg_replica.url_for(name)
    _replay(pg_replica, resume=True)
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _replay(replica: Replica, *, resume: bool) -> None:
    if not replica.running():
        return
    with psycopg.connect(replica.url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()" if resume else "SELECT pg_wal_replay_pause()")


def _container(primary: str, replica: str, tmp_path: Path, *, max_lag_s: float) -> Container:
    settings = Settings(
        database_url=primary,
        database_replica_url=replica,
        replica_max_lag_s=max_lag_s,
        replica_check_interval_s=0.1,
        data_dir=tmp_path,
        secret_key="test-secret-key",  # type: ignore[arg-type]
        relay_in_process=False,
    )
    container = build(settings, clock=FakeClock(), migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    return container


def _book(container: Container, hour: int, phone: str) -> str:
    return container.booking.create(
        CreateReservation(
            "demo",
            datetime(DAY.year, DAY.month, DAY.day, hour, 0, tzinfo=UTC),
            2,
            GuestDetails(name=f"Guest {phone}", phone=phone),
        ),
        GUEST,
    ).reservation.code


def _listed(container: Container) -> set[str]:
    return {view.code for view in container.booking.list_for_day("demo", DAY)}


def _eventually(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _on_replica(container: Container) -> bool:
    assert container.replica is not None
    with container.replica.reading() as conn:
        return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one())


def _on_replica_caught_up(container: Container, position: str | None) -> bool:
    assert container.replica is not None
    with container.replica.reading(caught_up_to=position) as conn:
        return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one())


def test_lag_tolerant_reads_go_to_the_replica_and_writes_to_the_primary(
    pg_replica: Replica, replicated_db: tuple[str, str], tmp_path: Path
) -> None:
    container = _container(*replicated_db, tmp_path, max_lag_s=60)
    try:
        first = _book(container, 12, "600100001")
        _eventually(lambda: first in _listed(container))
        assert _on_replica(container)

        _replay(pg_replica, resume=False)  # the replica stops applying the primary's writes
        second = _book(container, 13, "600100002")  # the write goes to the primary
        assert container.booking.get(second).code == second  # read-back: the primary
        # The day's list is served by the replica, which has not seen the new booking.
        assert _listed(container) == {first}
        # A read that must hold everything up to now (the live feed's snapshot, whose
        # position the client resumes from) goes to the primary while the replica is behind.
        assert container.replica is not None
        position = container.replica.primary_position()
        caught_up = container.booking.list_for_day("demo", DAY, caught_up_to=position)
        assert {view.code for view in caught_up} == {first, second}

        _replay(pg_replica, resume=True)
        _eventually(lambda: _listed(container) == {first, second})
        position = container.replica.primary_position()
        _eventually(
            lambda: _on_replica_caught_up(container, position)  # replayed: the replica again
        )
    finally:
        container.close()


def test_reads_go_back_to_the_primary_while_the_replica_lags(
    pg_replica: Replica, replicated_db: tuple[str, str], tmp_path: Path
) -> None:
    container = _container(*replicated_db, tmp_path, max_lag_s=1.0)
    assert container.replica is not None
    try:
        first = _book(container, 12, "600200001")
        _eventually(lambda: first in _listed(container) and container.replica.healthy())

        _replay(pg_replica, resume=False)
        second = _book(container, 13, "600200002")
        time.sleep(1.5)  # the replica is now more than max_lag_s behind
        assert _listed(container) == {first, second}  # read from the primary
        assert not container.replica.healthy()
        assert container.replica.lag_s is not None
        assert container.replica.lag_s > 1.0
        assert not _on_replica(container)

        _replay(pg_replica, resume=True)
        _eventually(container.replica.healthy)
        assert _on_replica(container)
    finally:
        container.close()


def test_reads_go_back_to_the_primary_when_the_replica_is_down(
    pg_replica: Replica, replicated_db: tuple[str, str], tmp_path: Path
) -> None:
    container = _container(*replicated_db, tmp_path, max_lag_s=60)
    assert container.replica is not None
    try:
        first = _book(container, 12, "600300001")
        _eventually(lambda: first in _listed(container))
        assert _on_replica(container)

        pg_replica.stop()
        second = _book(container, 13, "600300002")
        assert _listed(container) == {first, second}  # no error: the primary answered
        assert not container.replica.healthy()
        assert not _on_replica(container)

        pg_replica.start()
        _eventually(container.replica.healthy)
        assert _on_replica(container)
    finally:
        if not pg_replica.running():
            pg_replica.start()
        container.close()
