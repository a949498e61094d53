"""``Idempotency-Key`` rows: a create's key and request hash, stored in the
booking's own transaction, so a replay finds the reservation it made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from saveit.store.database import ignoring_conflicts
from saveit.store.repository import Repository, bound
from saveit.store.schema import idempotency_keys


def claim_key(
    conn: Connection, restaurant_id: int, key: str, request_hash: str, now: datetime
) -> bool:
    """Store the key; False when it exists (a replay, or a duplicate still in flight,
    which this insert waits for on the key's unique index)."""
    fresh = conn.execute(
        ignoring_conflicts(conn.dialect.name, idempotency_keys, idempotency_keys.c.key),
        {
            "restaurant_id": restaurant_id,
            "key": key,
            "request_hash": request_hash,
            "created_at": now,
        },
    ).first()
    return fresh is not None


@dataclass(frozen=True, slots=True)
class KeyEntry:
    request_hash: str
    reservation_id: int | None  # None while the first request is still in flight


def entry(conn: Connection, restaurant_id: int, key: str) -> KeyEntry | None:
    row = conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.restaurant_id == restaurant_id,
            idempotency_keys.c.key == key,
        )
    ).one_or_none()
    return None if row is None else KeyEntry(row.request_hash, row.reservation_id)


def bind(conn: Connection, restaurant_id: int, key: str, reservation_id: int) -> None:
    """Point the key at the reservation its request made."""
    conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.restaurant_id == restaurant_id, idempotency_keys.c.key == key)
        .values(reservation_id=reservation_id)
    )


class IdempotencyRepository(Repository):
    """``Idempotency-Key`` rows of reservation creates."""

    claim_key = bound(claim_key)
    entry = bound(entry)
    bind = bound(bind)
