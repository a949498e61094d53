"""Each restaurant's accounts on the messaging channels, and routing by them.

An inbound webhook names the receiving WhatsApp phone number id, Instagram
account id, SMS number or email address; ``route`` maps it to the restaurant.
The unique key on ``(channel, address)`` keeps two restaurants from claiming
the same number. ``channels`` says which channels a restaurant can send on (the
notifier asks before it reads anything else about a booking).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from saveit.channels.model import ChannelName
from saveit.channels.ports import ChannelAccount
from saveit.domain import errors
from saveit.store.database import reading
from saveit.store.schema import channel_accounts, restaurants

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


def _account(row: Any) -> ChannelAccount:
    return ChannelAccount(
        restaurant_id=int(row.restaurant_id),
        channel=row.channel,
        address=row.address,
        settings=dict(row.settings),
    )


def put(
    conn: Connection,
    restaurant_id: int,
    channel: ChannelName,
    address: str,
    settings: Mapping[str, Any],
    now: datetime,
) -> ChannelAccount:
    """Create or replace the restaurant's account on ``channel``."""
    values = {"address": address, "settings": dict(settings), "updated_at": now}
    try:
        with conn.begin_nested():
            changed = conn.execute(
                update(channel_accounts)
                .where(
                    channel_accounts.c.restaurant_id == restaurant_id,
                    channel_accounts.c.channel == channel,
                )
                .values(**values)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(channel_accounts).values(
                        restaurant_id=restaurant_id, channel=channel, created_at=now, **values
                    )
                )
    except IntegrityError as exc:
        raise errors.Conflict(
            f"The {channel} address '{address}' belongs to another restaurant",
            channel=channel,
            address=address,
        ) from exc
    return ChannelAccount(restaurant_id, channel, address, dict(settings))


def remove(conn: Connection, restaurant_id: int, channel: ChannelName) -> bool:
    return bool(
        conn.execute(
            delete(channel_accounts).where(
                channel_accounts.c.restaurant_id == restaurant_id,
                channel_accounts.c.channel == channel,
            )
        ).rowcount
    )


def of_restaurant(conn: Connection, restaurant_id: int) -> list[ChannelAccount]:
    rows = conn.execute(
        select(channel_accounts)
        .where(channel_accounts.c.restaurant_id == restaurant_id)
        .order_by(channel_accounts.c.channel)
    )
    return [_account(row) for row in rows]


def find(conn: Connection, restaurant_id: int, channel: str) -> ChannelAccount | None:
    row = conn.execute(
        select(channel_accounts).where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
        )
    ).first()
    return None if row is None else _account(row)


def channels(conn: Connection, restaurant_id: int) -> frozenset[str]:
    """The channels ``restaurant_id`` has an account on."""
    rows = conn.execute(
        select(channel_accounts.c.channel).where(channel_accounts.c.restaurant_id == restaurant_id)
    )
    return frozenset(str(row.channel) for row in rows)


def route(conn: Connection, channel: str, address: str) -> ChannelAccount | None:
    """The account a message to ``address`` arrived at. The web chat needs no
    account: its address is the restaurant's slug."""
    if channel == "webchat":
        found = conn.execute(select(restaurants.c.id).where(restaurants.c.slug == address))
        restaurant_id = found.scalar()
        return None if restaurant_id is None else ChannelAccount(restaurant_id, "webchat", address)
    row = conn.execute(
        select(channel_accounts).where(
            channel_accounts.c.channel == channel, channel_accounts.c.address == address
        )
    ).first()
    return None if row is None else _account(row)


class AccountDirectory:
    """``route`` and ``channels`` with a short per-process memory: a webhook burst
    for one number costs one lookup, a burst of notices for one restaurant one
    more, and an edit made anywhere applies within ``ttl_s`` (at once in this
    process after :meth:`forget`). So a channel account added or removed starts
    or stops the notices on that channel within ``ttl_s``."""

    _MAX_KEYS = 10_000

    def __init__(self, engine: Engine, *, ttl_s: float = 2.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._known: dict[tuple[str, str], tuple[float, ChannelAccount | None]] = {}
        self._channels: dict[int, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def route(self, channel: str, address: str) -> ChannelAccount | None:
        return self._remembered(
            self._known, (channel, address), lambda c: route(c, channel, address)
        )

    def channels(self, restaurant_id: int) -> frozenset[str]:
        """The channels the restaurant has an account on, as of at most ``ttl_s`` ago."""
        return self._remembered(self._channels, restaurant_id, lambda c: channels(c, restaurant_id))

    def _remembered(
        self, memory: dict[_K, tuple[float, _V]], key: _K, load: Callable[[Connection], _V]
    ) -> _V:
        now = time.monotonic()
        with self._lock:
            hit = memory.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        with reading(self.engine) as conn:
            found = load(conn)
        with self._lock:
            if len(memory) > self._MAX_KEYS:
                memory.clear()
            memory[key] = (now, found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._known.clear()
            self._channels.clear()
