"""A guest's new booking as one statement that is its own transaction: the guest's
row, the reservation, its claims and tables, its audit row, its event and its
slot's covers, with no ``BEGIN`` and no ``COMMIT``.

Why: a create was its read and then four round trips (``BEGIN``, the guest's row,
the booking's statement of :mod:`saveit.store.booked`, ``COMMIT``), seven with an
``Idempotency-Key`` (the bot's, which also names its guest by id), and on a busy
process each one also waits for the interpreter (``bench/README.md``). Here the
guest's row is the statement's first ``WITH`` and the booking reads its id from it,
and the statement runs in autocommit (``Database.on_its_own``): one round trip.

All or nothing. A statement in autocommit commits whatever it wrote, so when it
cannot write the booking whole (its public code was taken, a racing booking holds
a cell, the slot's pacing cap refuses its covers, or the guest's no-shows mean the
booking must wait for approval) it calls ``saveit_refuse`` (migration 0015), whose
error undoes every row it wrote, the guest's included. :func:`insert_booked_at_once`
then answers None and the caller takes the transactional path, which decides what
to answer (another table, a refusal, a pending booking). A refusal costs that
round trip on top, and leaves an ``ERROR`` line in PostgreSQL's log: it is the
rare outcome of a race.

The guest is the one the caller identified by id (a chat's guest, as
:func:`saveit.store.guests.known` takes them), or is found by phone, or by email
when there is no phone, as :func:`saveit.store.guests.find_or_create` finds them,
with the rules of :mod:`saveit.store.guest_row`. A guest id this restaurant does
not have leaves the statement no guest, and it refuses: the transactional path
then answers ``NOT_FOUND``.

An ``Idempotency-Key`` is stored in the same statement, already pointing at the
booking it made. A key that exists (a duplicate that raced past the replay read,
or one still in flight, whose row this insert waits for on the key's unique index)
inserts nothing, and the statement refuses: the transactional path then replays
it or answers ``CONFLICT``, as it does for every key it finds. Two statements with
one key cannot deadlock: the same statement takes its locks in the same order, the
table claims before the key. The documents (the audit
row's ``after``, the event's payload) are built in Python with no guest and get
the guest's id in the statement (``jsonb_set``); they are JSONB, whose key order
is the server's either way.

PostgreSQL and unscoped work only, as :mod:`saveit.store.booked`; elsewhere the
function answers None before any round trip.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, TextClause, text

from saveit.domain.commands import Actor, GuestDetails
from saveit.domain.views import GuestView, ReservationView
from saveit.store.booked import booking_ctes, booking_params, refused_alone, typed_documents
from saveit.store.guest_row import guest_params, guest_row, typed, who_of, written_whole
from saveit.store.guests import guest_view
from saveit.store.outbox import mark_written
from saveit.store.tenancy import current_tenant


class BookedAtOnce(NamedTuple):
    """What :func:`insert_booked_at_once` wrote: the new booking's id and its guest
    as the booking left them."""

    reservation_id: int
    guest: GuestView


# the key, stored pointing at the booking, when the booking is whole
_KEYED = (
    ", keyed AS ("
    " INSERT INTO idempotency_keys (restaurant_id, key, request_hash, reservation_id,"
    " created_at)"
    " SELECT :restaurant_id, :idempotency_key, :request_hash, whole.id, :created_at"
    " FROM whole ON CONFLICT DO NOTHING RETURNING 1"
    ")"
)


@cache
def _statement(who: str, keyed: bool) -> TextClause:
    """The statement for a guest found by ``who`` (``id``, ``phone`` or ``email``),
    storing an ``Idempotency-Key`` if ``keyed``."""
    guest_id = "(SELECT id FROM guest)"
    whole = (
        "guest.id IS NOT NULL AND made.id IS NOT NULL"  # noqa: S608 - constants only
        " AND (SELECT count(*) FROM claimed) = :wanted"
        " AND EXISTS (SELECT 1 FROM counted)"
        + (" AND EXISTS (SELECT 1 FROM keyed)" if keyed else "")
        + " AND (CAST(:pending_from AS integer) IS NULL"
        " OR guest.no_show_count < CAST(:pending_from AS integer))"
    )
    statement = text(
        "WITH "  # noqa: S608 - constants only
        + guest_row(who)
        + ", "
        + booking_ctes(
            guest_id=guest_id,
            after=f"jsonb_set(:log_after, '{{guest_id}}', to_jsonb({guest_id}))",
            payload=f"jsonb_set(:ev_payload, '{{reservation,guest_id}}', to_jsonb({guest_id}))",
        )
        + (_KEYED if keyed else "")
        + " SELECT made.id AS reservation_id, guest.id, guest.name, guest.phone,"  # noqa: S608
        " guest.email, guest.language, guest.visit_count, guest.no_show_count,"
        f" CASE WHEN {whole} THEN 0"
        " ELSE saveit_refuse('the booking could not be written whole') END AS whole"
        # one row even with no guest (an id the restaurant does not have), to refuse
        " FROM (SELECT) AS one LEFT JOIN guest ON true LEFT JOIN made ON true"
    )
    return typed_documents(typed(statement, who))


def insert_booked_at_once(
    conn: Connection,
    view: ReservationView,
    details: GuestDetails,
    area: str | None,
    table_ids: list[int],
    cells: range,
    actor: Actor,
    cap: int | None,
    pending_from: int | None,
    *,
    guest_id: int | None = None,
    key: tuple[str, str] | None = None,
) -> BookedAtOnce | None:
    """Write the booking ``view`` describes (its id and guest aside, which are the
    statement's) for the guest ``guest_id`` names, or else ``details`` by phone or
    email, at these tables, with ``key`` (the ``Idempotency-Key`` and the request's
    hash) if given, on ``conn`` in autocommit; see the module docstring.
    ``pending_from``: the no-show count from which the guest's booking would wait for
    approval (None: never), which this statement does not write. None: nothing was
    written."""
    who = who_of(details, guest_id)
    if (
        who == "new"
        or conn.dialect.name != "postgresql"
        or current_tenant() is not None
        or refused_alone(view, cap)
    ):
        return None
    params: dict[str, Any] = {
        **booking_params(view, area, table_ids, cells, actor, cap),
        **guest_params(details, guest_id),
        "pending_from": pending_from,
    }
    if key is not None:
        params["idempotency_key"], params["request_hash"] = key
    row = written_whole(conn, _statement(who, key is not None), params)
    if row is None:
        return None
    mark_written(conn)
    return BookedAtOnce(int(row.reservation_id), guest_view(row))
