"""Each restaurant's accounts on the messaging channels, and routing by them.

An inbound webhook names the receiving WhatsApp phone number id, Instagram
account id, SMS number or email address; ``route`` maps it to the restaurant.
A claim routes nothing and sends nothing until it is proven (``routed_address``
is set only then): by the Graph API for WhatsApp and Instagram, by the
deployment admin, or by a code sent to the address. The unique key on
``(channel, routed_address)`` lets one proof win an address, while unproven
claims on it wait beside it without blocking anyone. ``channels`` says which
channels a restaurant can send on (the notifier asks before it reads anything
else about a booking).

Secrets (access tokens) are sealed into the ``secrets`` column with a
:class:`~saveit.store.secret_box.SecretBox`; ``settings`` keeps the rest.
Readers that send pass the box and get the secrets back in ``settings``;
readers that only route or list get them left out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from saveit.domain import errors
from saveit.domain.channel_ports import ChannelAccount
from saveit.domain.messages import ChannelName

# Re-exported while callers outside the store still call the module's functions;
# the unit of work's repository is the way in (drop these once none do).
from saveit.store.account_proofs import NOT_AVAILABLE as NOT_AVAILABLE
from saveit.store.account_proofs import code_of as code_of
from saveit.store.account_proofs import prove as prove
from saveit.store.account_proofs import proven_elsewhere as proven_elsewhere
from saveit.store.account_proofs import restaurant_name as restaurant_name
from saveit.store.account_proofs import set_code as set_code
from saveit.store.account_proofs import unprove as unprove
from saveit.store.database import reading
from saveit.store.repository import Repository, bound
from saveit.store.restaurants import name_and_slug
from saveit.store.schema import channel_accounts, restaurants
from saveit.store.secret_box import SecretBox

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")

SECRET_SETTINGS = frozenset({"access_token"})


@dataclass(frozen=True, slots=True)
class Claim:
    """A restaurant's account on a channel with how far it is proven."""

    account: ChannelAccount
    proven_by: str | None  # None: pending, routes and sends nothing
    proven_at: datetime | None
    code_expires_at: datetime | None
    code_attempts: int
    secret_names: frozenset[str]

    @property
    def proven(self) -> bool:
        return self.proven_by is not None


def _settings(row: Any, box: SecretBox | None) -> dict[str, Any]:
    settings = dict(row.settings)
    if box is not None and row.secrets:
        settings.update(box.open(row.secrets))
    return settings


def _account(row: Any, box: SecretBox | None = None) -> ChannelAccount:
    return ChannelAccount(
        restaurant_id=int(row.restaurant_id),
        channel=row.channel,
        address=row.address,
        settings=_settings(row, box),
    )


def _claim(row: Any, box: SecretBox) -> Claim:
    opened = box.open(row.secrets) if row.secrets else {}
    return Claim(
        account=_account(row),
        proven_by=row.proven_by,
        proven_at=row.proven_at,
        code_expires_at=row.proof_expires_at if row.proof_hash else None,
        code_attempts=int(row.proof_attempts or 0),
        secret_names=frozenset(opened) | (SECRET_SETTINGS & set(row.settings)),
    )


def _split(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = {k: v for k, v in settings.items() if k not in SECRET_SETTINGS}
    secret = {k: v for k, v in settings.items() if k in SECRET_SETTINGS}
    return plain, secret


def put(
    conn: Connection,
    restaurant_id: int,
    channel: ChannelName,
    address: str,
    settings: Mapping[str, Any],
    now: datetime,
    *,
    box: SecretBox,
    proven_by: str | None,
    proof_hash: str | None = None,
    proof_expires_at: datetime | None = None,
) -> ChannelAccount:
    """Create or replace the restaurant's account on ``channel``.

    ``proven_by`` None stores a pending claim, which routes nothing, unless the
    restaurant already holds this very address proven (an edit of its settings).
    A proof that collides with another restaurant's proven address is a plain
    :class:`~saveit.domain.errors.Conflict` that names nobody."""
    plain, secret = _split(settings)
    current = conn.execute(
        select(channel_accounts.c.routed_address, channel_accounts.c.proven_by).where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
        )
    ).first()
    keeps_proof = proven_by is None and current is not None and current.routed_address == address
    values: dict[str, Any] = {
        "address": address,
        "settings": plain,
        "secrets": box.seal(secret) if secret else None,
        "updated_at": now,
        "routed_address": address if proven_by or keeps_proof else None,
        "proven_by": proven_by or (current.proven_by if keeps_proof and current else None),
        "proof_hash": None if proven_by or keeps_proof else proof_hash,
        "proof_expires_at": None if proven_by or keeps_proof else proof_expires_at,
        "proof_attempts": 0,
    }
    if proven_by:
        values["proven_at"] = now
    elif not keeps_proof:
        values["proven_at"] = None
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
        raise errors.Conflict(NOT_AVAILABLE) from exc
    return ChannelAccount(restaurant_id, channel, address, dict(settings))


def settings_of(
    conn: Connection, restaurant_id: int, channel: str, box: SecretBox
) -> dict[str, Any]:
    """A claim's settings with its secrets opened, proven or not (to prove it)."""
    row = conn.execute(
        select(channel_accounts).where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
        )
    ).first()
    return {} if row is None else _settings(row, box)


def remove(conn: Connection, restaurant_id: int, channel: ChannelName) -> bool:
    return bool(
        conn.execute(
            delete(channel_accounts).where(
                channel_accounts.c.restaurant_id == restaurant_id,
                channel_accounts.c.channel == channel,
            )
        ).rowcount
    )


def of_restaurant(conn: Connection, restaurant_id: int, box: SecretBox) -> list[Claim]:
    """Every claim of the restaurant, proven or not (the managers' view)."""
    rows = conn.execute(
        select(channel_accounts)
        .where(channel_accounts.c.restaurant_id == restaurant_id)
        .order_by(channel_accounts.c.channel)
    )
    return [_claim(row, box) for row in rows]


def claim_of(conn: Connection, restaurant_id: int, channel: str, box: SecretBox) -> Claim | None:
    row = conn.execute(
        select(channel_accounts).where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
        )
    ).first()
    return None if row is None else _claim(row, box)


def find(
    conn: Connection, restaurant_id: int, channel: str, box: SecretBox | None = None
) -> ChannelAccount | None:
    """The restaurant's proven account on ``channel`` (secrets included given ``box``);
    a pending claim is no account: nothing goes out from it."""
    row = conn.execute(
        select(channel_accounts).where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.channel == channel,
            channel_accounts.c.routed_address.is_not(None),
        )
    ).first()
    return None if row is None else _account(row, box)


def channels(conn: Connection, restaurant_id: int) -> frozenset[str]:
    """The channels ``restaurant_id`` has a proven account on."""
    rows = conn.execute(
        select(channel_accounts.c.channel).where(
            channel_accounts.c.restaurant_id == restaurant_id,
            channel_accounts.c.routed_address.is_not(None),
        )
    )
    return frozenset(str(row.channel) for row in rows)


def route(conn: Connection, channel: str, address: str) -> ChannelAccount | None:
    """The proven account a message to ``address`` arrived at. The web chat needs no
    account: its address is the restaurant's slug."""
    if channel == "webchat":
        found = conn.execute(select(restaurants.c.id).where(restaurants.c.slug == address))
        restaurant_id = found.scalar()
        return None if restaurant_id is None else ChannelAccount(restaurant_id, "webchat", address)
    row = conn.execute(
        select(channel_accounts).where(
            channel_accounts.c.channel == channel, channel_accounts.c.routed_address == address
        )
    ).first()
    return None if row is None else _account(row)


def seal_plaintext(conn: Connection, box: SecretBox) -> int:
    """Move secrets still stored in plain ``settings`` (rows older than the sealed
    column) into ``secrets``; returns how many rows changed. Idempotent."""
    moved = 0
    for row in conn.execute(select(channel_accounts)).all():
        plain, secret = _split(row.settings)
        if not secret:
            continue
        merged = {**(box.open(row.secrets) if row.secrets else {}), **secret}
        conn.execute(
            update(channel_accounts)
            .where(channel_accounts.c.id == row.id)
            .values(settings=plain, secrets=box.seal(merged))
        )
        moved += 1
    return moved


def reseal_all(conn: Connection, box: SecretBox) -> int:
    """Re-seal every stored secret under the box's newest key (plain ones too); raises
    :class:`~saveit.store.secret_box.SecretsUnreadable` before changing anything when
    one opens under no key."""
    seal_plaintext(conn, box)
    rows = conn.execute(
        select(channel_accounts.c.id, channel_accounts.c.secrets).where(
            channel_accounts.c.secrets.is_not(None)
        )
    ).all()
    fresh = [(row.id, box.reseal(row.secrets)) for row in rows]
    for row_id, sealed in fresh:
        conn.execute(
            update(channel_accounts).where(channel_accounts.c.id == row_id).values(secrets=sealed)
        )
    return len(fresh)


class _HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


class AccountDirectory:
    """``route`` and ``channels`` with a short per-process memory: a webhook burst
    for one number costs one lookup, a burst of notices for one restaurant one
    more, and an edit made anywhere applies within ``ttl_s`` (at once in this
    process after :meth:`forget`). So a channel account added or removed starts
    or stops the notices on that channel within ``ttl_s``."""

    _MAX_KEYS = 10_000

    def __init__(self, database: _HasEngine, *, ttl_s: float = 2.0) -> None:
        self.engine = database.engine  # a Database, or an Engine (whose .engine is itself)
        self.ttl_s = ttl_s
        self._known: dict[tuple[str, str], tuple[float, ChannelAccount | None]] = {}
        self._channels: dict[int, tuple[float, frozenset[str]]] = {}
        self._senders: dict[tuple[int, str], tuple[float, ChannelAccount | None]] = {}
        self._names: dict[int, tuple[float, tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def route(self, channel: str, address: str) -> ChannelAccount | None:
        return self._remembered(
            self._known, (channel, address), lambda c: route(c, channel, address)
        )

    def channels(self, restaurant_id: int) -> frozenset[str]:
        """The channels the restaurant has an account on, as of at most ``ttl_s`` ago."""
        return self._remembered(self._channels, restaurant_id, lambda c: channels(c, restaurant_id))

    def sender(
        self, restaurant_id: int, channel: str, box: SecretBox | None
    ) -> ChannelAccount | None:
        """The account (secrets opened with ``box``) a reply goes out from: every send
        needs it, and a burst of replies for one restaurant costs one lookup. A
        secret that cannot be opened raises :class:`SecretsUnreadable` and is not
        remembered."""
        return self._remembered(
            self._senders, (restaurant_id, channel), lambda c: find(c, restaurant_id, channel, box)
        )

    def speaking_as(self, restaurant_id: int) -> tuple[str, str]:
        """The restaurant's name and slug, which every reply and send is signed with;
        a rename shows within ``ttl_s``."""
        return self._remembered(
            self._names, restaurant_id, lambda c: name_and_slug(c, restaurant_id)
        )

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
            self._senders.clear()
            self._names.clear()


class AccountRepository(Repository):
    """A restaurant's channel accounts (the addresses guests write to)."""

    put = bound(put)
    prove = bound(prove)
    unprove = bound(unprove)
    settings_of = bound(settings_of)
    set_code = bound(set_code)
    code_of = bound(code_of)
    proven_elsewhere = bound(proven_elsewhere)
    restaurant_name = bound(restaurant_name)
    remove = bound(remove)
    of_restaurant = bound(of_restaurant)
    claim_of = bound(claim_of)
    find = bound(find)
    channels = bound(channels)
    route = bound(route)
    seal_plaintext = bound(seal_plaintext)
    reseal_all = bound(reseal_all)
