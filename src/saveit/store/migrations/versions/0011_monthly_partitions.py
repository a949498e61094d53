# ruff: noqa: S608 - the SQL names only our own fixed tables and month bounds
"""Monthly partitions for the append-only tables (PostgreSQL only).

``reservation_log`` (by ``at``), ``outbox`` (by ``created_at``),
``processed_events`` (by ``processed_at``) and ``channel_messages`` (by
``created_at``) become range-partitioned by month, so old months leave by
dropping a partition (:mod:`saveit.store.partitions` keeps them). On SQLite the
tables stay as they are and this migration does nothing.

For each table, in this one transaction: the old table is renamed aside, a
partitioned parent with the same columns (and the same ``id`` sequence) is
created with a monthly partition for every month that has rows up to three
months ahead plus a default partition, the rows are copied, the old table is
dropped, and the keys, indexes, foreign keys and triggers are recreated under
their old names. Row-level security flags, policies and grants on the old
table are carried over to the parent, so a security migration that ran before
this one keeps its effect (one that runs after finds the parents in the
catalogue like any table: ``relkind = 'p'``, partitions have ``relispartition``).
A forced row-level security is lifted from the old table for the copy, and the
copy runs with ``row_security = off``, so a policy could only make it fail,
never leave rows behind. Partitions get RLS enabled (not forced) with no policy:
through the parent the parent's policies apply; read directly, by anyone but the
owner, a partition shows nothing.

Unique keys on a partitioned table must include the partition key:

* primary keys become ``(id, <timestamp>)``; ``id`` still comes from one
  sequence, so it stays unique in fact.
* ``outbox.event_id`` and ``channel_messages.public_id`` become unique together
  with the timestamp; both are random ids minted once per row (uuid4, 128 random
  bits) and nothing upserts on them, so nothing relied on more.
* ``channel_messages (channel, provider_message_id)`` and ``processed_events
  (consumer, event_id)`` are deduplication keys: a webhook retried or an event
  redelivered days later carries a *different* timestamp, so a key widened by
  the timestamp would let the duplicate in. They keep a plain index, and their
  inserts go through :func:`saveit.store.absent.insert_absent`: a
  transaction advisory lock on the key, then an insert of only the keys not yet
  present, checked in a statement that starts after the lock is held, so under
  READ COMMITTED it sees what a concurrent holder committed. Only those two
  insert paths write these keys. ``processed_events`` keeps a primary key
  ``(consumer, event_id, processed_at)``.
* ``notifications.message_id`` loses its foreign key to ``channel_messages``
  (a reference to a partitioned table needs a unique key on ``id`` alone); it
  stays a plain id, which after a month is dropped may point at nothing — it is
  only ever read to show what was sent.

The audit log's append-only trigger is recreated on the parent, where
PostgreSQL clones it onto every partition, present and future.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

AHEAD = 3

# table: (partition column, primary key, [DDL recreated after the copy])
TABLES: dict[str, tuple[str, str, list[str]]] = {
    "reservation_log": (
        "at",
        "id, at",
        [
            "ALTER TABLE reservation_log ADD CONSTRAINT "
            "fk_reservation_log_reservation_id_reservations FOREIGN KEY (reservation_id) "
            "REFERENCES reservations (id) ON DELETE RESTRICT",
            "ALTER TABLE reservation_log ADD CONSTRAINT "
            "fk_reservation_log_restaurant_id_restaurants FOREIGN KEY (restaurant_id) "
            "REFERENCES restaurants (id) ON DELETE RESTRICT",
            "CREATE INDEX ix_reservation_log_reservation_id ON reservation_log (reservation_id)",
            "CREATE TRIGGER reservation_log_append_only BEFORE UPDATE OR DELETE ON "
            "reservation_log FOR EACH ROW EXECUTE FUNCTION saveit_reservation_log_append_only()",
        ],
    ),
    "outbox": (
        "created_at",
        "id, created_at",
        [
            "ALTER TABLE outbox ADD CONSTRAINT uq_outbox_event_id UNIQUE (event_id, created_at)",
            "ALTER TABLE outbox ADD CONSTRAINT fk_outbox_restaurant_id_restaurants "
            "FOREIGN KEY (restaurant_id) REFERENCES restaurants (id) ON DELETE CASCADE",
            "CREATE INDEX ix_outbox_published_at_id ON outbox (published_at, id)",
        ],
    ),
    "processed_events": (
        "processed_at",
        "consumer, event_id, processed_at",
        [
            "CREATE INDEX ix_processed_events_processed_at ON processed_events (processed_at)",
        ],
    ),
    "channel_messages": (
        "created_at",
        "id, created_at",
        [
            "ALTER TABLE channel_messages ADD CONSTRAINT uq_channel_messages_public_id "
            "UNIQUE (public_id, created_at)",
            "CREATE INDEX ix_channel_messages_channel_provider_message_id "
            "ON channel_messages (channel, provider_message_id)",
            "ALTER TABLE channel_messages ADD CONSTRAINT "
            "fk_channel_messages_conversation_id_conversations FOREIGN KEY (conversation_id) "
            "REFERENCES conversations (id) ON DELETE CASCADE",
            "ALTER TABLE channel_messages ADD CONSTRAINT "
            "fk_channel_messages_identity_id_channel_identities FOREIGN KEY (identity_id) "
            "REFERENCES channel_identities (id) ON DELETE SET NULL",
            "ALTER TABLE channel_messages ADD CONSTRAINT "
            "fk_channel_messages_restaurant_id_restaurants FOREIGN KEY (restaurant_id) "
            "REFERENCES restaurants (id) ON DELETE CASCADE",
            "CREATE INDEX ix_channel_messages_conversation_id_id "
            "ON channel_messages (conversation_id, id)",
            "CREATE INDEX ix_channel_messages_processed_at_direction_next_attempt_at "
            "ON channel_messages (processed_at, direction, next_attempt_at)",
        ],
    ),
}


def _months(first: date, last: date) -> list[date]:
    months = []
    month = date(first.year, first.month, 1)
    while month <= last:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _row_security(conn: Connection, table: str) -> tuple[bool, bool]:
    flags = conn.execute(
        text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE oid = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).one()
    return bool(flags.relrowsecurity), bool(flags.relforcerowsecurity)


def _carry_security(conn: Connection, old: str, new: str, flags: tuple[bool, bool]) -> None:
    """Row-level security (``flags``: enabled, forced, as ``old`` had them), its
    policies and the grants of ``old`` onto ``new``."""
    enabled, forced = flags
    if enabled:
        conn.execute(text(f"ALTER TABLE {new} ENABLE ROW LEVEL SECURITY"))
    if forced:
        conn.execute(text(f"ALTER TABLE {new} FORCE ROW LEVEL SECURITY"))
    policies = conn.execute(
        text(
            "SELECT p.polname, p.polpermissive, p.polcmd, "
            "pg_get_expr(p.polqual, p.polrelid) AS qual, "
            "pg_get_expr(p.polwithcheck, p.polrelid) AS check, "
            "ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END "
            "FROM unnest(p.polroles) AS r) AS roles "
            "FROM pg_policy p WHERE p.polrelid = CAST(:t AS regclass)"
        ),
        {"t": old},
    ).all()
    commands = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
    for policy in policies:
        statement = (
            f'CREATE POLICY "{policy.polname}" ON {new} '
            f"AS {'PERMISSIVE' if policy.polpermissive else 'RESTRICTIVE'} "
            f"FOR {commands[policy.polcmd]} TO {', '.join(policy.roles)}"
        )
        if policy.qual is not None:
            statement += f" USING ({policy.qual})"
        if policy.check is not None:
            statement += f" WITH CHECK ({policy.check})"
        conn.execute(text(statement))
    grants = conn.execute(
        text(
            "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee "
            "FROM pg_class c, aclexplode(c.relacl) AS a "
            "WHERE c.oid = CAST(:t AS regclass) AND a.grantee <> c.relowner"
        ),
        {"t": old},
    ).all()
    for grant in grants:
        conn.execute(text(f"GRANT {grant.privilege_type} ON {new} TO {grant.grantee}"))


def _partition(conn: Connection, table: str, today: date) -> None:
    column, key, ddl = TABLES[table]
    old = f"{table}_unpartitioned"
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    sequence = None
    if key.startswith("id,"):
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old}
        ).scalar_one_or_none()
    if sequence is not None:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    conn.execute(
        text(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({column})")
    )
    # Every row must come across: lift a forced row-level security off the old table
    # (the owner then sees all), and make any filtering left an error, not a loss.
    security = _row_security(conn, old)
    conn.execute(text(f"ALTER TABLE {old} NO FORCE ROW LEVEL SECURITY"))
    conn.execute(text("SET LOCAL row_security = off"))
    oldest = conn.execute(text(f"SELECT min({column}) FROM {old}")).scalar_one_or_none()
    first = min(today, oldest.astimezone(UTC).date()) if oldest is not None else today
    last = today
    for _ in range(AHEAD):
        last = _next(last)
    for month in _months(first, last):
        conn.execute(
            text(
                f"CREATE TABLE {table}_p{month.year:04d}{month.month:02d} PARTITION OF {table} "
                f"FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(_next(month))}')"
            )
        )
    conn.execute(text(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"))
    conn.execute(text(f"INSERT INTO {table} SELECT * FROM {old}"))
    conn.execute(text("SET LOCAL row_security = on"))
    _carry_security(conn, old, table, security)
    conn.execute(text(f"DROP TABLE {old}"))
    conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})"))
    for statement in ddl:
        conn.execute(text(statement))
    if sequence is not None:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id"))
    if conn.execute(
        text("SELECT relrowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
    ).scalar_one():
        for (name,) in conn.execute(
            text(
                "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = "
                "CAST(:t AS regclass)"
            ),
            {"t": table},
        ).all():
            conn.execute(text(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    today = datetime.now(UTC).date().replace(day=1)
    conn.execute(
        text(
            "ALTER TABLE notifications DROP CONSTRAINT IF EXISTS "
            "fk_notifications_message_id_channel_messages"
        )
    )
    for table in TABLES:
        _partition(conn, table, today)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    raise NotImplementedError("monthly partitions are not undone; restore a backup instead")
