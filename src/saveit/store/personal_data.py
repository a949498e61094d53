"""Which columns hold a guest's personal data, and what erasure leaves in their place.

One list for the whole schema, read by erasure (:mod:`saveit.store.erasure`):
each :class:`Personal` entry names a table, which of its rows belong to the
guest being erased (a condition on the :class:`Scope`), and for each personal
column what replaces it. Everything else in those rows is kept, so counts,
party sizes, times, statuses and channels still add up in statistics.

A table added later joins with one entry here, e.g.::

    Personal(email_proofs, of_guest("guest_id"), {"address": PSEUDONYM}),
    Personal(booking_codes, of_contact("contact"), {"contact": PSEUDONYM}),

and its other text columns go in :data:`NOT_PERSONAL`.
``tests/unit/test_privacy_classification.py`` fails while any text or
JSON column of a guest-related table (one whose foreign keys lead to
``guests``, or one named here) is in neither list.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    case,
    cast,
    false,
    literal,
    null,
    or_,
    tuple_,
)

from saveit.store.schema import (
    booking_holds,
    channel_identities,
    channel_messages,
    conversations,
    guest_surveys,
    guests,
    idempotency_keys,
    link_codes,
    outbox,
    reservation_log,
    reservations,
    waitlist_entries,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Everything that identifies one guest's rows, gathered once before erasing."""

    restaurant_id: int
    guest_id: int
    identity_ids: tuple[int, ...] = ()
    addresses: tuple[tuple[str, str], ...] = ()  # (channel, external id) of each identity
    conversation_ids: tuple[int, ...] = ()
    reservation_ids: tuple[int, ...] = ()
    reservation_codes: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()  # the guest's E.164 phone and email, as stored


Rows = Callable[[Table, Scope], ColumnElement[bool]]


class Replacement:
    """What a personal value becomes: ``new(old value, row's primary key)`` row by
    row, or, where ``in_sql``, ``expression(table, column)`` for every row in one
    UPDATE."""

    in_sql = False

    def new(self, old: Any, key: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def expression(self, table: Table, column: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Constant(Replacement):
    value: Any = field(default=None, hash=False)
    in_sql = True

    def new(self, old: Any, key: tuple[Any, ...]) -> Any:
        return copy.deepcopy(self.value)  # JSON values: never one list shared by rows

    def expression(self, table: Table, column: str) -> Any:
        return self.new(None, ())


class Pseudonym(Replacement):
    """``erased:<row id>``: unique per row, so unique keys on the column still hold."""

    in_sql = True

    def new(self, old: Any, key: tuple[Any, ...]) -> Any:
        return None if old is None else "erased:" + ":".join(str(k) for k in key)

    def expression(self, table: Table, column: str) -> Any:
        (key,) = table.primary_key.columns  # a table keyed otherwise: name its own replacement
        return case(
            (table.c[column].is_(None), null()),
            else_=literal("erased:", String) + cast(key, String),
        )


@dataclass(frozen=True, slots=True)
class Redact(Replacement):
    """A JSON document with these keys blanked at any depth, the rest (ids, sizes,
    times, statuses) kept. Done row by row: the two backends' JSON functions differ."""

    keys: frozenset[str]

    def new(self, old: Any, key: tuple[Any, ...]) -> Any:
        return self._clean(old)

    def _clean(self, doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: "" if k in self.keys else self._clean(v) for k, v in doc.items()}
        if isinstance(doc, list):
            return [self._clean(v) for v in doc]
        return doc


BLANK = Constant("")
NULL = Constant(None)
EMPTY_LIST = Constant([])
EMPTY_OBJECT = Constant({})
ERASED_BODY = Constant({"text": ""})  # still a readable (empty) message on both directions
PSEUDONYM = Pseudonym()
ERASED = Constant("erased")
# Free text people type into a booking, and the reason staff give for a change.
SNAPSHOT_TEXT = Redact(frozenset({"notes", "reason"}))


def of_guest(column: str) -> Rows:
    return lambda table, scope: table.c[column] == scope.guest_id


def of_ids(column: str, ids: Callable[[Scope], tuple[int, ...]]) -> Rows:
    return lambda table, scope: table.c[column].in_(ids(scope)) if ids(scope) else false()


def of_contact(column: str) -> Rows:
    """Rows keyed by the guest's phone or email rather than their id (a code sent to
    a contact before any guest had it), at the guest's restaurant."""

    def rows(table: Table, scope: Scope) -> ColumnElement[bool]:
        if not scope.contacts:
            return false()
        mine = table.c[column].in_(scope.contacts)
        if "restaurant_id" in table.c:
            return and_(table.c.restaurant_id == scope.restaurant_id, mine)
        return mine

    return rows


def _messages(table: Table, scope: Scope) -> ColumnElement[bool]:
    """The guest's conversations and identities, and what was stored from their
    addresses before an identity was resolved."""
    mine: list[ColumnElement[bool]] = [false()]
    if scope.conversation_ids:
        mine.append(table.c.conversation_id.in_(scope.conversation_ids))
    if scope.identity_ids:
        mine.append(table.c.identity_id.in_(scope.identity_ids))
    if scope.addresses:
        mine.append(
            and_(
                table.c.restaurant_id == scope.restaurant_id,
                tuple_(table.c.channel, table.c.address).in_(list(scope.addresses)),
            )
        )
    return or_(*mine)


def _link_codes(table: Table, scope: Scope) -> ColumnElement[bool]:
    """Codes the guest asked for, and codes someone asked for to reach the guest's contact."""
    mine = [table.c.guest_id == scope.guest_id, of_contact("contact")(table, scope)]
    if scope.identity_ids:
        mine.append(table.c.identity_id.in_(scope.identity_ids))
    return or_(*mine)


def _events(table: Table, scope: Scope) -> ColumnElement[bool]:
    """Outbox events carrying a snapshot of one of the guest's reservations."""
    if not scope.reservation_codes:
        return false()
    return and_(
        table.c.restaurant_id == scope.restaurant_id,
        table.c.payload["reservation"]["code"].as_string().in_(scope.reservation_codes),
    )


@dataclass(frozen=True, slots=True)
class Personal:
    table: Table
    rows: Rows
    columns: Mapping[str, Replacement]


_reservation_ids = of_ids("reservation_id", lambda s: s.reservation_ids)

PERSONAL: tuple[Personal, ...] = (
    Personal(
        guests,
        of_guest("id"),
        {
            "name": PSEUDONYM,
            "phone": NULL,
            "email": NULL,
            "notes": BLANK,
            "allergies": EMPTY_LIST,
            "tags": EMPTY_LIST,
            "notify_channels": EMPTY_LIST,  # chose no channel: nothing more is sent to them
        },
    ),
    Personal(
        channel_identities,
        of_ids("id", lambda s: s.identity_ids),
        {"external_id": PSEUDONYM, "display_name": BLANK},
    ),
    Personal(conversations, of_guest("guest_id"), {"state": EMPTY_OBJECT, "offered": EMPTY_LIST}),
    Personal(
        channel_messages,
        _messages,
        {
            "address": PSEUDONYM,
            "provider_message_id": PSEUDONYM,  # WhatsApp's ids encode the sender's number
            "text": BLANK,
            "body": ERASED_BODY,
            "raw": BLANK,
            "error_detail": NULL,
        },
    ),
    Personal(link_codes, _link_codes, {"contact": PSEUDONYM}),
    Personal(reservations, of_guest("guest_id"), {"notes": BLANK}),
    Personal(reservation_log, _reservation_ids, {"before": SNAPSHOT_TEXT, "after": SNAPSHOT_TEXT}),
    Personal(outbox, _events, {"payload": SNAPSHOT_TEXT}),
    Personal(idempotency_keys, _reservation_ids, {"request_hash": ERASED}),  # a digest of it all
    Personal(booking_holds, _reservation_ids, {"contact": PSEUDONYM}),
    Personal(waitlist_entries, of_guest("guest_id"), {"notes": BLANK}),
    Personal(guest_surveys, of_guest("guest_id"), {"comment": NULL}),  # the rating stays
)

# Text columns of guest-related tables that hold nothing about a person: codes,
# statuses, kinds, channel names, languages, staff labels, timestamps as text.
NOT_PERSONAL: Mapping[str, frozenset[str]] = {
    "guests": frozenset({"language"}),  # kept for statistics by language
    "reservations": frozenset(
        {"code", "status", "source", "area_preference", "created_by"}  # created_by: actor label
    ),
    "reservation_log": frozenset({"actor", "channel", "action"}),
    "channel_identities": frozenset({"channel", "verified_by"}),  # reply | dkim | code
    "conversations": frozenset({"language"}),
    "channel_messages": frozenset(
        {"public_id", "direction", "channel", "status", "author", "error_code"}
    ),
    "link_codes": frozenset({"code_hash"}),
    "booking_holds": frozenset({"channel", "code_hash"}),
    "waitlist_entries": frozenset({"area", "channel", "code", "created_by", "status"}),
    # Each step's entry snapshot (times, party, status, codes: no name, contact or note).
    "waitlist_log": frozenset({"action", "actor", "channel", "detail"}),
    "notifications": frozenset({"kind", "channel"}),
    "idempotency_keys": frozenset({"key"}),  # the client's key: a message id, a UUID
    "outbox": frozenset({"event_id", "type"}),
    "guest_erasures": frozenset({"actor", "channel", "counts"}),
    "guest_surveys": frozenset({"service", "channel", "language", "status"}),
    "survey_opt_outs": frozenset({"via"}),
}
