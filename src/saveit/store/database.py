"""Engine construction for both backends, and the SQLite settings that make
several processes on one file behave.

SQLite: WAL so readers never wait for the writer, a generous busy timeout so
writers queue instead of failing, and ``BEGIN IMMEDIATE`` for write
transactions so two writers never both read and then deadlock upgrading their
locks. Read-only work opts into a deferred ``BEGIN`` with
``execution_options(readonly=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url

from saveit.config import normalise_database_url
from saveit.store import tenancy


def create_db_engine(
    url: str,
    *,
    pool_size: int = 10,
    pool_timeout: float = 5.0,
    connect_timeout: int = 5,
    pre_ping: bool = False,
) -> Engine:
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        # No pre-ping: it costs a round trip per checkout. A connection that died
        # with the server fails its request once (a 503), and SQLAlchemy then
        # recycles every connection older than the failure, so the pool heals.
        # (A replica's engine pings: a read that finds it gone goes to the primary.)
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args={"connect_timeout": connect_timeout, "application_name": "saveit"},
    )
    tenancy.install(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's own lower() folds only ASCII, so a search for "ñúñez" missed
        # "Ñúñez" on the embedded default while PostgreSQL found it. No index
        # uses lower(), so replacing it changes no stored key.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get("readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only.

    PostgreSQL: autocommit, so a read costs no ``BEGIN``/``COMMIT`` round trips;
    under READ COMMITTED every statement took its own snapshot anyway. SQLite: a
    deferred ``BEGIN``, which never waits for the writer (WAL).
    """
    if engine.dialect.name == "postgresql":
        with autocommitting(engine) as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.execution_options(readonly=True)
        with conn.begin():
            yield conn


@contextmanager
def autocommitting(engine: Engine) -> Iterator[Connection]:
    """A PostgreSQL connection in autocommit: each statement is its own transaction,
    and SQLAlchemy's begin and commit send nothing. The begin is explicit all the
    same, so a clean exit is a commit rather than the rollback that would drop the
    tenancy scope's record of the session (``tenancy.install``)."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn.begin():
            yield conn


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@cache
def ignoring_conflicts(dialect: str, table: Any, *returning: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` (``RETURNING`` if asked) in the dialect,
    built once and run with a parameter dict: the booking path's hot inserts skip
    building and hashing a statement. Whether a row went in is read from
    ``RETURNING``: an INSERT's rowcount is not reported by every driver."""
    base = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = base(table).on_conflict_do_nothing()
    return statement.returning(*returning) if returning else statement


def one_of(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``. On PostgreSQL, ``= ANY`` of one
    array parameter: an expanding ``IN`` is rendered into the statement's text again
    on every execution, a placeholder and a cast per item, which on the hot paths
    (a booking's busy tables, the relay's batch) cost a share of the interpreter's
    time of its own. SQLite has no arrays and keeps the ``IN``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))
