"""A new sender's first message placed in one statement that is its own transaction:
their guest (found by phone or email, or made), their identity on this channel,
their conversation (found or begun) and the message attached to both.

Why: a first contact was a transaction of eleven round trips (``BEGIN``, the
identity's update that finds nobody, the guest's two, the identity's insert and
its read back, the conversation's read, insert and read back, the message's
attachment, ``COMMIT``), after the one-statement try of
:func:`saveit.store.conversations.returning_sender` had found nobody. On a busy
worker each round trip also waits for the interpreter lock (``bench/README.md``);
and where guests book through a chat, a first contact is every guest's first turn.
Here the writes read one another's ``RETURNING``, and the statement runs in
autocommit (``Database.on_its_own``): one round trip.

The guest follows :mod:`saveit.store.guest_row`: a guest the restaurant already
knows by this phone or email (who booked on the web, say) keeps their data, and
their conversation, if a confirmation began one, is the one this message joins.

All or nothing, as :mod:`saveit.store.booked_at_once`: when the identity exists
already (a racing worker placed the same sender's other message a moment before)
or the message is not there to attach, the statement calls ``saveit_refuse``,
whose error undoes every row it wrote, and :func:`met_at_once` answers None: the
caller takes the transactional path (``resolve``, ``open_conversation``), which
finds what the race made. A refusal leaves an ``ERROR`` line in PostgreSQL's log.

PostgreSQL and unscoped work only; elsewhere :func:`met_at_once` answers None
before any round trip.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, TextualSelect, text

from saveit.domain.commands import GuestDetails
from saveit.store.conversations import (
    Conversation,
    Identity,
    Prefixed,
    conversation_from_row,
    identity_from_row,
)
from saveit.store.guest_row import guest_params, guest_row, typed, who_of, written_whole
from saveit.store.repository import Repository, bound
from saveit.store.schema import channel_identities, conversations
from saveit.store.tenancy import current_tenant

_IDENTITY = tuple(c.name for c in channel_identities.c)
_CONVERSATION = tuple(c.name for c in conversations.c)


@cache
def _statement(who: str) -> TextualSelect:
    """The statement for a guest found or made by ``who`` (``phone``, ``email`` or
    ``new``, as :func:`saveit.store.guest_row.guest_row`)."""
    guest_id = "(SELECT id FROM guest)"
    talk = ", ".join(_CONVERSATION)
    statement = text(
        "WITH "  # noqa: S608 - constants only
        + guest_row(who)
        + ", ident AS ("  # noqa: S608 - constants only
        " INSERT INTO channel_identities (restaurant_id, channel, external_id, guest_id,"
        " display_name, created_at, last_inbound_at)"
        " SELECT :restaurant_id, :channel, :external_id, guest.id, :display_name,"
        " :created_at, :created_at FROM guest"
        f" ON CONFLICT DO NOTHING RETURNING {', '.join(_IDENTITY)})"
        f", found AS (SELECT {talk} FROM conversations"
        f" WHERE restaurant_id = :restaurant_id AND guest_id = {guest_id})"
        ", began AS ("
        " INSERT INTO conversations (restaurant_id, guest_id, state, offered, handoff,"
        " version, last_message_at, created_at)"
        " SELECT :restaurant_id, guest.id, '{}', '[]', false, 1, :created_at, :created_at"
        " FROM guest WHERE NOT EXISTS (SELECT 1 FROM found)"
        f" ON CONFLICT DO NOTHING RETURNING {talk})"
        f", talk AS (SELECT {talk} FROM found UNION ALL SELECT {talk} FROM began)"
        ", attached AS ("
        " UPDATE channel_messages SET identity_id = ident.id, conversation_id = talk.id"
        " FROM ident, talk WHERE channel_messages.id = :message"
        " AND channel_messages.restaurant_id = :restaurant_id RETURNING 1)"
        " SELECT "
        + ", ".join(f"ident.{name} AS i_{name}" for name in _IDENTITY)
        + ", "
        + ", ".join(f"talk.{name} AS c_{name}" for name in _CONVERSATION)
        + ", EXISTS (SELECT 1 FROM began) AS first,"
        # attached only when there is an identity, a conversation and the message
        " CASE WHEN EXISTS (SELECT 1 FROM attached) THEN 0"
        " ELSE saveit_refuse('the first contact could not be placed whole') END AS whole"
        " FROM (SELECT) AS one LEFT JOIN ident ON true LEFT JOIN talk ON true"
    )
    return typed(statement, who).columns(
        **{f"i_{c.name}": c.type for c in channel_identities.c},
        **{f"c_{c.name}": c.type for c in conversations.c},
    )


def met_at_once(
    conn: Connection,
    restaurant_id: int,
    channel: str,
    external_id: str,
    details: GuestDetails,
    message_id: int,
    now: datetime,
) -> tuple[Identity, Conversation, bool] | None:
    """Place the first message ``message_id`` of the sender ``external_id`` on
    ``channel`` (the guest ``details`` describe, as ``conversations.resolve`` would
    find them) on ``conn`` in autocommit; see the module docstring. The identity,
    the conversation and whether this message began it; None: nothing was written."""
    if conn.dialect.name != "postgresql" or current_tenant() is not None:
        return None
    who = who_of(details)
    params: dict[str, Any] = {
        **guest_params(details),
        "restaurant_id": restaurant_id,
        "channel": channel,
        "external_id": external_id,
        "display_name": details.name[:200],
        "created_at": now,
        "message": message_id,
    }
    row = written_whole(conn, _statement(who), params)
    if row is None:
        return None
    return (
        identity_from_row(Prefixed(row, "i_")),
        conversation_from_row(Prefixed(row, "c_")),
        bool(row.first),
    )


class FirstContactRepository(Repository):
    """A new sender's first message, placed whole."""

    met_at_once = bound(met_at_once)
