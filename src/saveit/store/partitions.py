# ruff: noqa: S608 - the SQL names only our own fixed tables and month bounds
"""Monthly partitions of the append-only tables on PostgreSQL.

The audit log, the outbox, ``processed_events`` and ``channel_messages`` only
grow. On PostgreSQL each is range-partitioned by month on its timestamp (see
migration 0011), so old months leave by ``DROP TABLE`` of a partition — no
``DELETE`` that bloats and vacuums, and the audit log's append-only trigger
never has to be bypassed row by row. On SQLite they stay plain tables and
everything here is a no-op.

Each parent has monthly partitions ``<table>_pYYYYMM`` and a ``<table>_default``
that catches any row outside them, so a write never fails because the
partition job fell behind; the next run moves such rows into their month.
:class:`PartitionKeeper` is the job: it creates partitions ``months_ahead``
months ahead and drops those older than each table's retention, but never one
that still holds unpublished outbox rows or unanswered/unsent messages.

Unique keys of a partitioned table must contain the partition key, so the
deduplication keys that cannot (``channel_messages (channel,
provider_message_id)``, ``processed_events (consumer, event_id)``: a retry comes
at a different time) are kept by :func:`insert_absent` instead: a transaction
advisory lock per key, then an insert of only the keys not yet present.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

# table -> partition key column
LOCK_TIMEOUT_MS = 200  # how long the job waits for a lock a request holds

PARTITIONED: dict[str, str] = {
    "reservation_log": "at",
    "outbox": "created_at",
    "processed_events": "processed_at",
    "channel_messages": "created_at",
}

# Rows that are still work: a partition holding any of them is never dropped.
_PENDING: dict[str, str] = {
    "outbox": "published_at IS NULL",
    "channel_messages": "processed_at IS NULL",
}


def month_start(moment: date | datetime) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month.year:04d}{month.month:02d}"


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


_KNOWN_PARTITIONED: set[tuple[str, str]] = set()


def is_partitioned(conn: Connection, table: str) -> bool:
    """Whether ``table`` is a partitioned parent here (asked of the catalogue once per
    database and table: a table never goes back to plain)."""
    if conn.dialect.name != "postgresql":
        return False
    key = (conn.engine.url.render_as_string(hide_password=True), table)
    if key in _KNOWN_PARTITIONED:
        return True
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"t": table},
    ).first()
    if found is not None:
        _KNOWN_PARTITIONED.add(key)
    return found is not None


def monthly_partitions(conn: Connection, table: str) -> dict[date, str]:
    """The table's monthly partitions by month (the default one left out)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :t AND p.relnamespace = current_schema()::regnamespace"
        ),
        {"t": table},
    )
    found: dict[date, str] = {}
    prefix = f"{table}_p"
    for (name,) in rows:
        suffix = name[len(prefix) :]
        if name.startswith(prefix) and len(suffix) == 6 and suffix.isdigit():
            found[date(int(suffix[:4]), int(suffix[4:]), 1)] = name
    return found


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _copy_row_security(conn: Connection, parent: str, partition: str) -> None:
    """A partition of a parent with row-level security gets RLS switched on with no
    policy of its own: queries through the parent use the parent's policies, and
    any other role reading the partition directly sees nothing. Not forced: the
    owner (who runs this job) must see every row of a partition to judge it."""
    enabled = conn.execute(
        text(
            "SELECT relrowsecurity FROM pg_class "
            "WHERE relname = :t AND relnamespace = current_schema()::regnamespace"
        ),
        {"t": parent},
    ).scalar_one()
    if enabled:
        conn.execute(text(f"ALTER TABLE {_quote(conn, partition)} ENABLE ROW LEVEL SECURITY"))


def create_month(conn: Connection, table: str, month: date) -> bool:
    """Create ``table``'s partition for ``month`` unless it exists; rows of that
    month that fell into the default partition move into it. True if created."""
    name = partition_name(table, month)
    if month in monthly_partitions(conn, table):
        return False
    column = PARTITIONED[table]
    q_table, q_name, q_col = _quote(conn, table), _quote(conn, name), _quote(conn, column)
    default = _quote(conn, f"{table}_default")
    lower, upper = _bound(month), _bound(add_months(month, 1))
    in_range = f"{q_col} >= '{lower}' AND {q_col} < '{upper}'"
    stray = conn.execute(text(f"SELECT 1 FROM {default} WHERE {in_range} LIMIT 1")).first()
    if stray is None:
        conn.execute(
            text(
                f"CREATE TABLE {q_name} PARTITION OF {q_table} "
                f"FOR VALUES FROM ('{lower}') TO ('{upper}')"
            )
        )
    else:
        # Rows of this month landed in the default partition: move them, then attach.
        # The audit log's append-only trigger is off on the default partition for the
        # move only (a move, not a deletion: every row lands in its month).
        conn.execute(text(f"LOCK TABLE {q_table} IN ACCESS EXCLUSIVE MODE"))
        conn.execute(text(f"CREATE TABLE {q_name} (LIKE {q_table} INCLUDING DEFAULTS)"))
        conn.execute(text(f"ALTER TABLE {default} DISABLE TRIGGER USER"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {default} WHERE {in_range} RETURNING *) "
                f"INSERT INTO {q_name} SELECT * FROM moved"
            )
        )
        conn.execute(text(f"ALTER TABLE {default} ENABLE TRIGGER USER"))
        conn.execute(
            text(
                f"ALTER TABLE {q_table} ATTACH PARTITION {q_name} "
                f"FOR VALUES FROM ('{lower}') TO ('{upper}')"
            )
        )
    _copy_row_security(conn, table, name)
    return True


def ensure_default(conn: Connection, table: str) -> bool:
    """Create ``table``'s default partition if it is missing. True if created."""
    name = f"{table}_default"
    exists = conn.execute(
        text("SELECT to_regclass(:n) IS NOT NULL"), {"n": _quote(conn, name)}
    ).scalar_one()
    if exists:
        return False
    conn.execute(
        text(f"CREATE TABLE {_quote(conn, name)} PARTITION OF {_quote(conn, table)} DEFAULT")
    )
    _copy_row_security(conn, table, name)
    return True


def drop_expired(conn: Connection, table: str, before: date) -> list[str]:
    """Drop ``table``'s monthly partitions that end on or before ``before``, except
    any still holding work (unpublished events, unhandled messages). Returns the
    dropped names."""
    dropped = []
    pending = _PENDING.get(table)
    for month, name in sorted(monthly_partitions(conn, table).items()):
        if add_months(month, 1) > before:
            continue
        q_name = _quote(conn, name)
        if pending is not None:
            busy = conn.execute(text(f"SELECT 1 FROM {q_name} WHERE {pending} LIMIT 1")).first()
            if busy is not None:
                log.warning("partitions: keeping %s past retention: it still holds work", name)
                continue
        conn.execute(text(f"ALTER TABLE {_quote(conn, table)} DETACH PARTITION {q_name}"))
        conn.execute(text(f"DROP TABLE {q_name}"))
        dropped.append(name)
    return dropped


@dataclass
class PartitionRun:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


class PartitionKeeper:
    """The partition job: months ahead created, months past retention dropped.

    Safe to run from several workers at once: each table is handled in its own
    transaction under a transaction advisory lock, so two runs never race on
    one parent. Runs at most every ``interval_s`` however often it is called.
    """

    _LOCK = 0x5A7E_0011  # pg_advisory_xact_lock(this, hashtext(table))

    def __init__(
        self,
        engine: Engine,
        *,
        months_ahead: int,
        retention_months: Mapping[str, int],
        clock: Callable[[], datetime],
        interval_s: float = 3600.0,
    ) -> None:
        self.engine = engine
        self.months_ahead = months_ahead
        self.retention_months = dict(retention_months)
        self.clock = clock
        self.interval_s = interval_s
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self, monotonic_now: float) -> bool:
        with self._lock:
            if self._last is not None and monotonic_now - self._last < self.interval_s:
                return False
            self._last = monotonic_now
            return True

    def run(self) -> PartitionRun:
        done = PartitionRun()
        if self.engine.dialect.name != "postgresql":
            return done
        this_month = month_start(self.clock().astimezone(UTC))
        for table in PARTITIONED:
            with self.engine.begin() as conn:
                if not is_partitioned(conn, table):
                    continue
                # A query that row-level security would filter raises instead: a
                # partition judged free of pending work must really be free of it.
                conn.execute(text("SET LOCAL row_security = off"))
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k, hashtext(:t))"),
                    {"k": self._LOCK, "t": table},
                )
                # Creating a partition locks the parent, then (for its foreign keys) the
                # tables it references. A guest's transaction that wrote one of those and
                # then writes the parent waits on us while we wait on it: PostgreSQL
                # breaks the deadlock by aborting one, and it was the guest's answer. So
                # the job gives way at once; it runs again later, months ahead of need.
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
                if ensure_default(conn, table):
                    done.created.append(f"{table}_default")
                for n in range(self.months_ahead + 1):
                    month = add_months(this_month, n)
                    if create_month(conn, table, month):
                        done.created.append(partition_name(table, month))
                keep = self.retention_months.get(table)
                if keep is not None:
                    done.dropped += drop_expired(conn, table, add_months(this_month, -keep))
        if done.created or done.dropped:
            log.info("partitions: created %s, dropped %s", done.created, done.dropped)
        return done
