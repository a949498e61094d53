"""A guest's row found or made as the first ``WITH`` of a bigger statement, with the
rules :func:`saveit.store.guests.find_or_create` and :func:`saveit.store.guests.known`
follow in Python: a guest already known keeps their data and only blank fields are
filled (a name, a language, an email no other guest of the restaurant has).

Why a fragment of SQL: the statements that write a guest's booking
(:mod:`saveit.store.booked_at_once`) or a guest's first message
(:mod:`saveit.store.first_contact`) in one round trip need the guest's id inside
the statement. ``ON CONFLICT DO UPDATE`` returns the row whether it was made or
found, also when a racing statement by the same new guest made it a moment before
(it waits for that one and updates the row it committed); a known guest's row is
rewritten even when nothing is filled, which costs a row version but no round trip.

The ``WITH`` is named ``guest`` and returns :data:`COLUMNS`. Its parameters are
``restaurant_id``, ``created_at`` and the ``guest_*`` of :func:`guest_params`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Executable, Row, TextClause, bindparam
from sqlalchemy.exc import DBAPIError, IntegrityError

from saveit.domain.commands import GuestDetails
from saveit.store.schema import guests

REFUSED = "SV001"  # saveit_refuse's SQLSTATE (migration 0015)

COLUMNS = ("id", "name", "phone", "email", "language", "visit_count", "no_show_count")

_FILLED = {
    # what ``guests._fill_blanks`` fills on a known guest: a blank of theirs that
    # this statement gives (``excluded`` is the row the insert proposed)
    "name": "known.name = '' AND excluded.name <> ''",
    "language": "COALESCE(known.language, '') = '' AND COALESCE(excluded.language, '') <> ''",
    "email": "COALESCE(known.email, '') = '' AND excluded.email IS NOT NULL",
}

# the email a guest is given: none when another guest of the restaurant has it
_FREE_EMAIL = (
    "CASE WHEN EXISTS (SELECT 1 FROM guests WHERE restaurant_id = :restaurant_id"
    " AND email = CAST(:guest_email AS varchar)) THEN NULL"
    " ELSE CAST(:guest_email AS varchar) END"
)
_RETURNING = " RETURNING " + ", ".join(f"known.{column}" for column in COLUMNS)
_INSERT = (
    " INSERT INTO guests AS known (restaurant_id, name, phone, email, language, notes,"
    " allergies, tags, visit_count, no_show_count, created_at, updated_at)"
    " VALUES (:restaurant_id, :guest_name, :guest_phone,"
    " {email}, :guest_language, :guest_notes, :guest_allergies, :guest_tags, 0, 0,"
    " :created_at, :created_at)"
)


def _filling(source: str = "") -> str:
    """The ``SET`` list that fills a known guest's blanks from ``excluded`` (what
    ``source`` gives, if anything) and returns the guest's row."""
    filled = " OR ".join(f"({condition})" for condition in _FILLED.values())
    return (
        ",".join(
            f" {column} = CASE WHEN {condition} THEN excluded.{column} ELSE known.{column} END"
            for column, condition in _FILLED.items()
        )
        + f", updated_at = CASE WHEN {filled} THEN excluded.updated_at"
        " ELSE known.updated_at END" + source + _RETURNING
    )


def guest_row(who: str) -> str:
    """The ``WITH`` that finds or makes the guest, by ``who``: ``id`` (a guest the
    caller identified, blanks filled; no row when the restaurant has no such guest),
    ``phone`` or ``email`` (found by it, or made), or ``new`` (a guest with no
    contact, always made: a chat identity nobody has linked yet)."""
    if who == "id":
        proposed = (
            " FROM (SELECT CAST(:guest_name AS varchar) AS name,"
            " CAST(:guest_language AS varchar) AS language,"
            f" {_FREE_EMAIL} AS email, CAST(:created_at AS timestamptz) AS updated_at"
            ") AS excluded"
            " WHERE known.id = :guest_id AND known.restaurant_id = :restaurant_id"
        )
        return "guest AS (UPDATE guests AS known SET" + _filling(proposed) + ")"
    if who == "new":
        return "guest AS (" + _INSERT.format(email="NULL") + _RETURNING + ")"
    # a new guest by phone gets the email too, unless another guest has it
    email = _FREE_EMAIL if who == "phone" else ":guest_email"
    return (
        "guest AS ("
        + _INSERT.format(email=email)
        + f" ON CONFLICT (restaurant_id, {who}) DO UPDATE SET"
        + _filling()
        + ")"
    )


def who_of(details: GuestDetails, guest_id: int | None = None) -> str:
    """How :func:`guest_row` finds the guest these describe, as ``find_or_create``
    would: by id if given, else by phone, else by email, else as a new guest."""
    if guest_id is not None:
        return "id"
    return "phone" if details.phone else "email" if details.email else "new"


def guest_params(details: GuestDetails, guest_id: int | None = None) -> dict[str, Any]:
    return {
        "guest_id": guest_id,
        "guest_name": details.name,
        "guest_phone": details.phone,
        "guest_email": details.email,
        "guest_language": details.language,
        "guest_notes": details.notes,
        "guest_allergies": list(details.allergies),
        "guest_tags": list(details.tags),
    }


def typed(statement: TextClause, who: str) -> TextClause:
    """``statement`` with the guest's list parameters typed as their columns (an
    insert's; an ``id`` guest's update binds none)."""
    if who == "id":
        return statement
    return statement.bindparams(
        bindparam("guest_allergies", type_=guests.c.allergies.type),
        bindparam("guest_tags", type_=guests.c.tags.type),
    )


def written_whole(
    conn: Connection, statement: Executable, params: dict[str, Any]
) -> Row[Any] | None:
    """The one row of a statement that writes a guest's row and more, all or nothing;
    None when it wrote nothing: it refused (``saveit_refuse``), or a racing statement
    gave another guest this email (the transactional path then sees what it made)."""
    try:
        return conn.execute(statement, params).one()
    except IntegrityError:
        return None
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == REFUSED:
            return None
        raise
