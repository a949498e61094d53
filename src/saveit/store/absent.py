"""``INSERT … ON CONFLICT DO NOTHING`` for a key that is not a unique index (the
monthly-partitioned tables, whose unique indexes must include the partition key).

The rows travel as one JSON document, expanded by ``json_to_recordset``. The
earlier shape, one array parameter per column through ``unnest``, spent the
webhook path's time in the driver: psycopg builds a text array in Python, escaping
every element with a regular expression, and a webhook's raw JSON is all quotes
(``bench/webhooks.py``, py-spy: 13% of the API process). ``json.dumps`` escapes
in C, and PostgreSQL parses the document in C.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import JSON, Dialect, Table, TextClause, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError


def insert_absent(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    rows: Iterable[dict[str, Any]],
    *returning: Any,
    then: str | None = None,
) -> list[Any]:
    """Insert the rows whose ``keys`` are not in ``table`` yet (nor earlier in
    ``rows``). Each key is first locked with ``pg_advisory_xact_lock`` (in a fixed
    order, so two batches cannot deadlock); the ``INSERT … SELECT … WHERE NOT EXISTS``
    is a *later* statement, so under READ COMMITTED its snapshot sees whatever a
    concurrent holder of the lock committed, and two transactions never both insert
    one key. A row whose key has a NULL is always inserted (NULLs never collide in a
    unique key either). PostgreSQL only: the tables it serves are partitioned there.

    ``then`` is a statement whose result nobody reads (the inbox's ``NOTIFY``), run
    after the insert when there is anything to insert. Through psycopg the lock,
    the insert and ``then`` go to the server together (:func:`_pipelined`)."""
    chosen: dict[tuple[Any, ...], dict[str, Any]] = {}
    todo: list[dict[str, Any]] = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        if any(part is None for part in key):
            todo.append(row)
        elif key not in chosen:
            chosen[key] = row
            todo.append(row)
    if not todo:
        return []
    labels = sorted({"\x1f".join(str(part) for part in key) for key in chosen})
    names = tuple(todo[0])
    statement, processors = _absent_insert(
        conn.dialect, table, names, tuple(keys), tuple(c.key for c in returning)
    )
    document = json.dumps(
        [{n: _plain(row[n], p) for n, p in zip(names, processors, strict=True)} for row in todo],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    driver = conn.connection.driver_connection
    # A listener on the engine's statements (the tracer's span per statement) sees
    # each one go out on its own; without one they travel together.
    if isinstance(driver, psycopg.Connection) and not conn.dispatch.before_cursor_execute:
        return _pipelined(conn, driver, labels, statement, document, then, bool(returning))
    if labels:
        conn.execute(_LOCK_KEYS, {"labels": labels})
    found: list[Any] = []
    if returning:
        found = list(conn.execute(statement, {"rows": document}))
    else:
        conn.execute(statement, {"rows": document})
    if then is not None:
        conn.exec_driver_sql(then)
    return found


def _pipelined(
    conn: Connection,
    driver: psycopg.Connection[Any],
    labels: list[str],
    statement: TextClause,
    document: str,
    then: str | None,
    returning: bool,
) -> list[Any]:
    """The lock, the insert and ``then`` sent at once (psycopg's pipeline mode) and
    their results read back at once: one round trip where there were three. The
    transaction's ``BEGIN`` (psycopg waits for it before the rest) and its
    ``COMMIT`` keep theirs, so a webhook group's transaction takes three round trips
    where it took five (the protocol traced with libpq's ``PQtrace``).

    Each round trip is a wait for the server: across a network its latency, on a
    loaded machine a server process woken and the flush thread's turn for the
    interpreter again. A webhook's acknowledgement waits for its group's whole
    transaction (:mod:`saveit.messaging.intake`), so it waits for each of them.
    Each statement is still a statement of its own, with its own snapshot: the
    insert's is taken once the lock is granted, as :func:`insert_absent` needs.
    The driver's errors come back as SQLAlchemy's, as every other statement's do
    (callers tell an unreachable database by them)."""
    insert_sql = _driver_sql(conn.dialect, statement)
    cursor = driver.cursor(row_factory=namedtuple_row)
    try:
        with driver.pipeline():
            if labels:
                driver.execute(_driver_sql(conn.dialect, _LOCK_KEYS), {"labels": labels})
            cursor.execute(insert_sql, {"rows": document})
            if then is not None:
                driver.execute(then)
        return list(cursor.fetchall()) if returning else []
    except psycopg.Error as exc:
        raise DBAPIError.instance(
            insert_sql, None, exc, psycopg.Error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()


@lru_cache(maxsize=64)
def _driver_sql(dialect: Dialect, statement: TextClause) -> str:
    """``statement`` as the driver takes it (``%(name)s`` placeholders)."""
    return statement.compile(dialect=dialect).string


_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM "
    "(SELECT k FROM unnest(CAST(:labels AS text[])) AS k ORDER BY k) AS s"
)

_Processor = Callable[[Any], Any] | None


def _plain(value: Any, processor: _Processor) -> Any:
    """A column's value as JSON: through the column type's bind processor (a JSON
    column's document stays as it is), dates and times in ISO 8601."""
    if processor is not None:
        value = processor(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@lru_cache(maxsize=64)
def _absent_insert(
    dialect: Dialect,
    table: Table,
    names: tuple[str, ...],
    keys: tuple[str, ...],
    returning: tuple[str, ...],
) -> tuple[TextClause, tuple[_Processor, ...]]:
    """The ``INSERT … SELECT … FROM json_to_recordset(…) WHERE NOT EXISTS`` for any
    number of rows, and each column's bind processor (None for JSON columns, whose
    documents go in as they are).

    One text whatever the row count: SQLAlchemy compiles it once, psycopg keeps it
    as a prepared statement. (A ``VALUES`` list of one bound parameter per row and
    column was compiled anew on every call and differed with every batch size.)

    ``OFFSET 0`` keeps the ``NOT EXISTS`` a probe of the key's index per row. Without
    it PostgreSQL turns the test into an anti join, and since it guesses 100 rows for
    any ``json_to_recordset`` it hashes the whole table whenever the table looks
    small next to that guess: a new month's partition, a table not yet analysed.
    ``bench/booking.py`` caught the worker's ``processed_events`` insert doing that
    for a batch of ten events: 4.3 ms each, growing with the partition, against
    ~0.3 ms for ten probes (pg_stat_statements, EXPLAIN ANALYZE)."""
    prepare = dialect.identifier_preparer
    types = [table.c[n].type.dialect_impl(dialect) for n in names]
    quoted = [prepare.quote(n) for n in names]
    columns = ", ".join(
        f"{q} {t.compile(dialect=dialect)}" for q, t in zip(quoted, types, strict=True)
    )
    target = prepare.format_table(table)
    match = " AND ".join(f"t.{prepare.quote(k)} = i.{prepare.quote(k)}" for k in keys)
    # Every name comes from the table's metadata, quoted by the dialect; values are bound.
    sql = (
        f"INSERT INTO {target} ({', '.join(quoted)}) "  # noqa: S608
        f"SELECT {', '.join('i.' + q for q in quoted)} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS i ({columns}) "
        f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {match} OFFSET 0)"
    )
    if returning:
        sql += " RETURNING " + ", ".join(prepare.quote(r) for r in returning)
    processors = tuple(None if isinstance(t, JSON) else t.bind_processor(dialect) for t in types)
    return text(sql), processors
