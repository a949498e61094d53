"""A guest's new booking as one statement that is its own transaction: the guest's
row, the reservation, its claims and tables, its audit row, its event and its
slot's covers, with no ``BEGIN`` and no ``COMMIT``.

Why: a create was its read and then four round trips (``BEGIN``, the guest's row,
the booking's statement of :mod:`saveit.store.booked`, ``COMMIT``), and on a busy
API process each one also waits for the interpreter (``bench/README.md``). Here the
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

The guest is found by phone, or by email when there is no phone, as
:func:`saveit.store.guests.find_or_create` finds them, and gets what it fills in:
a guest already known keeps their data and only blank fields are filled (a name,
a language, an email no other guest of the restaurant has). ``ON CONFLICT DO
UPDATE`` returns the row whether it was made or found, also when a racing booking
by the same new guest made it a moment before (it waits for that one and updates
the row it committed); a known guest's row is rewritten even when nothing is
filled, which costs a row version but no round trip. The documents (the audit
row's ``after``, the event's payload) are built in Python with no guest and get
the guest's id in the statement (``jsonb_set``); they are JSONB, whose key order
is the server's either way.

PostgreSQL and unscoped work only, as :mod:`saveit.store.booked`; elsewhere the
function answers None before any round trip.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from saveit.domain.commands import Actor, GuestDetails
from saveit.domain.views import GuestView, ReservationView
from saveit.store.booked import booking_ctes, booking_params, refused_alone, typed_documents
from saveit.store.guests import guest_view
from saveit.store.outbox import mark_written
from saveit.store.schema import guests
from saveit.store.tenancy import current_tenant

REFUSED = "SV001"  # saveit_refuse's SQLSTATE (migration 0015)

_FILLED = {
    # what ``guests._fill_blanks`` fills on a known guest: a blank of theirs that
    # this booking gives (``excluded`` is the row the insert proposed)
    "name": "known.name = '' AND excluded.name <> ''",
    "language": "COALESCE(known.language, '') = '' AND COALESCE(excluded.language, '') <> ''",
    "email": "COALESCE(known.email, '') = '' AND excluded.email IS NOT NULL",
}


class BookedAtOnce(NamedTuple):
    """What :func:`insert_booked_at_once` wrote: the new booking's id and its guest
    as the booking left them."""

    reservation_id: int
    guest: GuestView


@cache
def _statement(key: str) -> TextClause:
    """The statement for a guest found by ``key`` (``phone`` or ``email``)."""
    if key == "phone":
        # a new guest by phone gets the email too, unless another guest has it
        email = (
            "CASE WHEN EXISTS (SELECT 1 FROM guests WHERE restaurant_id = :restaurant_id"
            " AND email = CAST(:guest_email AS varchar)) THEN NULL"
            " ELSE CAST(:guest_email AS varchar) END"
        )
    else:
        email = ":guest_email"
    filled = " OR ".join(f"({condition})" for condition in _FILLED.values())
    guest_row = (
        "guest AS ("  # noqa: S608 - constants only
        " INSERT INTO guests AS known (restaurant_id, name, phone, email, language, notes,"
        " allergies, tags, visit_count, no_show_count, created_at, updated_at)"
        " VALUES (:restaurant_id, :guest_name, :guest_phone,"
        f" {email}, :guest_language, :guest_notes, :guest_allergies, :guest_tags, 0, 0,"
        " :created_at, :created_at)"
        f" ON CONFLICT (restaurant_id, {key}) DO UPDATE SET"
        + ",".join(
            f" {column} = CASE WHEN {condition} THEN excluded.{column} ELSE known.{column} END"
            for column, condition in _FILLED.items()
        )
        + f", updated_at = CASE WHEN {filled} THEN excluded.updated_at"
        " ELSE known.updated_at END"
        " RETURNING id, name, phone, email, language, visit_count, no_show_count"
        ")"
    )
    guest_id = "(SELECT id FROM guest)"
    whole = (
        "made.id IS NOT NULL AND (SELECT count(*) FROM claimed) = :wanted"
        " AND EXISTS (SELECT 1 FROM counted)"
        " AND (CAST(:pending_from AS integer) IS NULL"
        " OR guest.no_show_count < CAST(:pending_from AS integer))"
    )
    return typed_documents(
        text(
            "WITH "  # noqa: S608 - constants only
            + guest_row
            + ", "
            + booking_ctes(
                guest_id=guest_id,
                after=f"jsonb_set(:log_after, '{{guest_id}}', to_jsonb({guest_id}))",
                payload=(
                    f"jsonb_set(:ev_payload, '{{reservation,guest_id}}', to_jsonb({guest_id}))"
                ),
            )
            + " SELECT made.id AS reservation_id, guest.id, guest.name, guest.phone,"  # noqa: S608
            " guest.email, guest.language, guest.visit_count, guest.no_show_count,"
            f" CASE WHEN {whole} THEN 0"
            " ELSE saveit_refuse('the booking could not be written whole') END AS whole"
            " FROM guest LEFT JOIN made ON true"
        ).bindparams(
            bindparam("guest_allergies", type_=guests.c.allergies.type),
            bindparam("guest_tags", type_=guests.c.tags.type),
        )
    )


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
) -> BookedAtOnce | None:
    """Write the booking ``view`` describes (its id and guest aside, which are the
    statement's) for the guest ``details`` names by phone or email, at these tables,
    on ``conn`` in autocommit; see the module docstring. ``pending_from``: the
    no-show count from which the guest's booking would wait for approval (None:
    never), which this statement does not write. None: nothing was written."""
    key = "phone" if details.phone else "email" if details.email else None
    if (
        key is None
        or conn.dialect.name != "postgresql"
        or current_tenant() is not None
        or refused_alone(view, cap)
    ):
        return None
    params: dict[str, Any] = {
        **booking_params(view, area, table_ids, cells, actor, cap),
        "guest_name": details.name,
        "guest_phone": details.phone,
        "guest_email": details.email,
        "guest_language": details.language,
        "guest_notes": details.notes,
        "guest_allergies": list(details.allergies),
        "guest_tags": list(details.tags),
        "pending_from": pending_from,
    }
    del params["guest_id"]
    try:
        row = conn.execute(_statement(key), params).one()
    except IntegrityError:
        return None  # a racing booking gave another guest this email: the other path sees it
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == REFUSED:
            return None
        raise
    mark_written(conn)
    return BookedAtOnce(int(row.reservation_id), guest_view(row))
