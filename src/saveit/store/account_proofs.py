"""Proving a channel account: who owns the address a restaurant claims (a code
sent to it, or the provider's own word), and the one restaurant that may route
it once proven (the unique ``routed_address`` lets only one proof win)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from saveit.domain import errors
from saveit.store.schema import channel_accounts, restaurants

NOT_AVAILABLE = "This address is not available"


def prove(conn: Connection, restaurant_id: int, channel: str, *, by: str, now: datetime) -> bool:
    """Mark the restaurant's pending claim proven; False when it has none."""
    try:
        with conn.begin_nested():
            return bool(
                conn.execute(
                    update(channel_accounts)
                    .where(
                        channel_accounts.c.restaurant_id == restaurant_id,
                        channel_accounts.c.channel == channel,
                    )
                    .values(
                        routed_address=channel_accounts.c.address,
                        proven_by=by,
                        proven_at=now,
                        proof_hash=None,
                        proof_expires_at=None,
                        proof_attempts=0,
                        updated_at=now,
                    )
                ).rowcount
            )
    except IntegrityError as exc:
        raise errors.Conflict(NOT_AVAILABLE) from exc


def unprove(conn: Connection, restaurant_id: int, channel: str, *, now: datetime) -> None:
    """Back to pending: the proof no longer holds (the Graph API refused it)."""
    conn.execute(
        update(channel_accounts)
        .where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
        )
        .values(routed_address=None, proven_by=None, proven_at=None, updated_at=now)
    )


def set_code(
    conn: Connection,
    restaurant_id: int,
    channel: str,
    *,
    proof_hash: str | None,
    expires_at: datetime | None,
    attempts: int = 0,
) -> None:
    conn.execute(
        update(channel_accounts)
        .where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
            channel_accounts.c.routed_address.is_(None),
        )
        .values(proof_hash=proof_hash, proof_expires_at=expires_at, proof_attempts=attempts)
    )


def code_of(conn: Connection, restaurant_id: int, channel: str) -> tuple[str, datetime, int] | None:
    """The pending claim's code hash, expiry and attempts so far (locked for the check)."""
    query = select(
        channel_accounts.c.proof_hash,
        channel_accounts.c.proof_expires_at,
        channel_accounts.c.proof_attempts,
    ).where(
        channel_accounts.c.restaurant_id == restaurant_id,
        channel_accounts.c.channel == channel,
        channel_accounts.c.routed_address.is_(None),
    )
    row = conn.execute(query.with_for_update()).first()
    if row is None or row.proof_hash is None or row.proof_expires_at is None:
        return None
    return str(row.proof_hash), row.proof_expires_at, int(row.proof_attempts or 0)


def proven_elsewhere(conn: Connection, restaurant_id: int, channel: str, address: str) -> bool:
    """Whether another restaurant holds ``address`` proven (never told to the caller)."""
    owner = conn.execute(
        select(channel_accounts.c.restaurant_id).where(
            channel_accounts.c.channel == channel, channel_accounts.c.routed_address == address
        )
    ).scalar()
    return owner is not None and int(owner) != restaurant_id


def restaurant_name(conn: Connection, restaurant_id: int) -> str:
    return str(
        conn.execute(select(restaurants.c.name).where(restaurants.c.id == restaurant_id)).scalar()
    )
