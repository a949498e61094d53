"""Database fixtures: every test that takes ``db_url`` runs on SQLite and on PostgreSQL.

SQLite gets a fresh file per test, copied from one migrated template. PostgreSQL
gets one database per test session (and xdist worker), built by the real
migrations, emptied with TRUNCATE before each test. Under ``CI=true`` an
unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.schema import metadata
from tests.support import FakeClock, demo_document

PG_BASE = os.environ.get("SAVEIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADMIN_TOKEN = "test-admin-token"
APP_ROLE = "saveit_app_test"


BROWSER_MODULE = pytest.StashKey[str]()
"""The test module whose Playwright driver is running, if one is."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse to start a test on a thread where an event loop is left running.

    Playwright's sync driver keeps its loop running on the test thread while it
    lives; one that outlived its module broke every later ``asyncio.run()`` in that
    worker with a message that pointed nowhere near the cause.
    """
    if item.config.stash.get(BROWSER_MODULE, None) == item.nodeid.split("::")[0]:
        return  # the module's own Playwright driver
    if asyncio._get_running_loop() is not None:
        pytest.fail(
            "an event loop is still running on the test thread before this test "
            "(a Playwright driver or another loop outlived the test that started it)"
        )


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not reachable: {reason}")


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}@{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server_url(worker_id: str) -> Iterator[str]:
    name = f"saveit_test_{os.getpid()}_{worker_id}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable(str(exc).strip())
    with admin:
        # The app connects as an ordinary role that owns its tables, as in
        # production: row-level security binds it (a superuser would skip it).
        admin.execute(
            "DO $$ BEGIN CREATE ROLE saveit_app_test LOGIN NOSUPERUSER NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(APP_ROLE)
            )
        )
    url = _as_role(_with_database(PG_BASE, name), APP_ROLE)
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "saveit.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


def _empty_postgres(url: str) -> None:
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "saveit.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_server_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret_key="test-secret-key",  # type: ignore[arg-type]
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
        relay_in_process=False,  # tests drive the relay themselves
        # Nothing leaves the machine: providers are closed loopback ports unless a
        # test starts a recording stand-in and points there.
        graph_api_base="http://127.0.0.1:9",
        twilio_api_base="http://127.0.0.1:9",
    )


@pytest.fixture
def container(settings: Settings, clock: FakeClock) -> Iterator[Container]:
    built = build(settings, clock=clock, migrate=False)
    yield built
    built.close()


@pytest.fixture
def demo(container: Container) -> str:
    """The demo restaurant (lunch 13-16, dinner 20-23:30 every day); returns its slug."""
    apply_spec(container.engine, parse_document(demo_document()))
    return "demo"
