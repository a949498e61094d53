"""Erasing one guest: every column :mod:`saveit.store.personal_data` lists, in the
caller's transaction, and an audit of it that holds no personal data.

The audit log (``reservation_log``) refuses UPDATE at the database. Its guard
lets exactly this path rewrite the snapshots of the erased guest's reservations:
on PostgreSQL while the transaction-local setting ``saveit.erasure`` holds the
guest's id, on SQLite while the transaction holds a row with it in
``erasure_in_progress`` (inserted here and deleted before the commit, so no
other connection ever sees it). The flag ends with the transaction either way,
opens only that guest's rows, and only lets ``before``/``after`` change: a
rewritten action, actor or time, another guest's rows, and any DELETE, are
still refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from saveit.domain.events import GUEST_ERASED
from saveit.store.outbox import mark_written
from saveit.store.personal_data import PERSONAL, Personal, Scope
from saveit.store.repository import Repository, bound
from saveit.store.schema import (
    channel_identities,
    channel_messages,
    conversations,
    erasure_in_progress,
    guest_erasures,
    guests,
    outbox,
    reservation_log,
    reservations,
)

ERASED_ACTION = "erased"


def scope_of(conn: Connection, restaurant_id: int, guest_id: int) -> Scope | None:
    """What identifies the guest's rows; None when the restaurant has no such guest."""
    found = conn.execute(
        select(guests.c.id, guests.c.phone, guests.c.email).where(
            guests.c.id == guest_id, guests.c.restaurant_id == restaurant_id
        )
    ).first()
    if found is None:
        return None
    identities = conn.execute(
        select(
            channel_identities.c.id, channel_identities.c.channel, channel_identities.c.external_id
        )
        .where(channel_identities.c.guest_id == guest_id)
        .order_by(channel_identities.c.id)
    ).all()
    conversation_ids = conn.execute(
        select(conversations.c.id).where(conversations.c.guest_id == guest_id)
    ).scalars()
    booked = conn.execute(
        select(reservations.c.id, reservations.c.code)
        .where(reservations.c.guest_id == guest_id)
        .order_by(reservations.c.id)
    ).all()
    return Scope(
        restaurant_id=restaurant_id,
        guest_id=guest_id,
        identity_ids=tuple(int(i.id) for i in identities),
        addresses=tuple((i.channel, i.external_id) for i in identities),
        conversation_ids=tuple(int(c) for c in conversation_ids),
        reservation_ids=tuple(int(r.id) for r in booked),
        reservation_codes=tuple(r.code for r in booked),
        contacts=tuple(c for c in (found.phone, found.email) if c),
    )


def erase(
    conn: Connection, scope: Scope, *, actor: str, channel: str, now: datetime
) -> dict[str, int]:
    """Pseudonymise the guest's personal data and record that it was done, by whom;
    returns how many rows each table had touched. The caller owns the transaction:
    a failure anywhere leaves everything as it was."""
    _stop_pending_messages(conn, scope, now)
    _allow_log_rewrite(conn, scope.guest_id)
    counts = {entry.table.name: _apply(conn, entry, scope) for entry in PERSONAL}
    _end_log_rewrite(conn)
    _audit(conn, scope, actor=actor, channel=channel, now=now, counts=counts)
    return counts


def _stop_pending_messages(conn: Connection, scope: Scope, now: datetime) -> None:
    """Nothing more goes out to, or is answered for, an erased guest; what was held
    is marked as redacted."""
    m = channel_messages
    mine = next(e for e in PERSONAL if e.table is m).rows(m, scope)
    conn.execute(
        update(m)
        .where(mine, m.c.processed_at.is_(None), m.c.direction == "out")
        .values(status="failed", error_code="ERASED", next_attempt_at=None)
    )
    conn.execute(
        update(m)
        .where(mine, m.c.processed_at.is_(None))
        .values(processed_at=now, claimed_until=None, updated_at=now)
    )
    conn.execute(update(m).where(mine).values(redacted_at=now, updated_at=now))


def _allow_log_rewrite(conn: Connection, guest_id: int) -> None:
    if conn.dialect.name == "postgresql":  # is_local: gone at the end of the transaction
        conn.execute(
            text("SELECT set_config('saveit.erasure', :guest, true)"), {"guest": str(guest_id)}
        )
    else:
        conn.execute(delete(erasure_in_progress))
        conn.execute(insert(erasure_in_progress).values(guest_id=guest_id))


def _end_log_rewrite(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('saveit.erasure', '', true)"))
    else:
        conn.execute(delete(erasure_in_progress))


def _apply(conn: Connection, entry: Personal, scope: Scope) -> int:
    table = entry.table
    where = entry.rows(table, scope)
    if all(r.in_sql for r in entry.columns.values()):
        values = {name: r.expression(table, name) for name, r in entry.columns.items()}
        return int(conn.execute(update(table).where(where).values(values)).rowcount)
    keys = list(table.primary_key.columns)
    columns = [table.c[name] for name in entry.columns]
    rows = conn.execute(select(*keys, *columns).where(where)).all()
    for row in rows:
        key = tuple(row._mapping[k] for k in keys)
        values = {
            name: r.new(row._mapping[table.c[name]], key) for name, r in entry.columns.items()
        }
        conn.execute(
            update(table).where(*(k == v for k, v in zip(keys, key, strict=True))).values(values)
        )
    return len(rows)


def _audit(
    conn: Connection,
    scope: Scope,
    *,
    actor: str,
    channel: str,
    now: datetime,
    counts: dict[str, int],
) -> None:
    """One erasure row, an ``erased`` entry in each reservation's history (why its
    snapshots are blank), and a ``guest.erased`` event for the live feed."""
    conn.execute(
        insert(guest_erasures).values(
            restaurant_id=scope.restaurant_id,
            guest_id=scope.guest_id,
            erased_at=now,
            actor=actor,
            channel=channel,
            counts=counts,
        )
    )
    if scope.reservation_ids:
        conn.execute(
            insert(reservation_log),
            [
                {
                    "reservation_id": reservation_id,
                    "restaurant_id": scope.restaurant_id,
                    "at": now,
                    "actor": actor,
                    "channel": channel,
                    "action": ERASED_ACTION,
                    "before": None,
                    "after": None,
                }
                for reservation_id in scope.reservation_ids
            ],
        )
    payload: dict[str, Any] = {"guest_id": scope.guest_id, "by": actor, "channel": channel}
    conn.execute(
        insert(outbox).values(
            event_id=str(uuid.uuid4()),
            restaurant_id=scope.restaurant_id,
            type=GUEST_ERASED,
            payload=payload,
            created_at=now,
        )
    )
    mark_written(conn)


def erasures_of(conn: Connection, restaurant_id: int, guest_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(guest_erasures.c.erased_at, guest_erasures.c.actor, guest_erasures.c.channel)
        .where(
            guest_erasures.c.restaurant_id == restaurant_id,
            guest_erasures.c.guest_id == guest_id,
        )
        .order_by(guest_erasures.c.id)
    ).all()
    return [
        {"erased_at": r.erased_at.isoformat(), "actor": r.actor, "channel": r.channel} for r in rows
    ]


class ErasureRepository(Repository):
    """A guest's erasure: what it covers, doing it, and its record."""

    scope_of = bound(scope_of)
    erase = bound(erase)
    erasures_of = bound(erasures_of)
