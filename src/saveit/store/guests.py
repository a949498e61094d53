"""Guests of a restaurant, found by E.164 phone or email before a new one is made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from saveit.domain import errors
from saveit.domain.commands import GuestDetails
from saveit.domain.views import GuestView
from saveit.store.database import ignoring_conflicts
from saveit.store.repository import Repository, bound
from saveit.store.schema import guests


def normalise_phone(raw: str, default_region: str) -> str:
    """E.164, so WhatsApp's ``34600…`` and a typed ``600 11 22 33`` are one guest."""
    text = raw.strip()
    digits = sum(c.isdigit() for c in text)  # "600 11 12 22" is nine digits, not twelve
    if text and text[0].isdigit() and digits > 10 and not text.startswith("00"):
        text = "+" + text  # international number written without its plus sign
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise errors.ValidationFailed(f"'{raw}' is not a phone number", field="phone") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise errors.ValidationFailed(f"'{raw}' is not a phone number", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """One mailbox, checked by ``email-validator`` (RFC 5322/6531 syntax, no DNS):
    line breaks, lists of addresses, display names and quoted or IP-literal forms
    are refused, since the address ends up in a header of the mail we send."""
    email = raw.strip()
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise errors.ValidationFailed(f"'{raw}' is not an email address", field="email") from exc
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def find_or_create(
    conn: Connection, restaurant_id: int, details: GuestDetails, now: datetime
) -> GuestView | None:
    """The guest this booking belongs to (as it stands once this transaction
    commits); None when the caller gave no contact at all.

    Existing guests keep their data: only blank fields are filled in.
    """
    if not (details.phone or details.email or details.name):
        return None
    key = guests.c.phone if details.phone else guests.c.email if details.email else None
    key_value = details.phone or details.email
    if key is not None:
        # A new guest comes back from RETURNING; a known one (the insert did
        # nothing) is read, and only its blank fields are filled in.
        made = conn.execute(
            ignoring_conflicts(conn.dialect.name, guests, guests),
            {
                "restaurant_id": restaurant_id,
                "name": details.name,
                "phone": details.phone,
                "email": details.email if details.phone is None else None,
                "language": details.language,
                "notes": details.notes,
                "allergies": list(details.allergies),
                "tags": list(details.tags),
                "visit_count": 0,
                "no_show_count": 0,
                "created_at": now,
                "updated_at": now,
            },
        ).first()
        if made is not None:
            # A new guest by phone gets the email too, unless another guest has it.
            filled = _fill_blanks(conn, restaurant_id, made, details, now)
            filled.pop("updated_at", None)
            return replace(guest_view(made), **filled)
        row = conn.execute(
            select(guests).where(guests.c.restaurant_id == restaurant_id, key == key_value)
        ).one()
        filled = _fill_blanks(conn, restaurant_id, row, details, now)
        filled.pop("updated_at", None)
        return replace(guest_view(row), **filled)
    return create(conn, restaurant_id, details, now)


def known(
    conn: Connection, restaurant_id: int, guest_id: int, details: GuestDetails, now: datetime
) -> GuestView | None:
    """A guest the caller already identified (a chat's guest), blanks filled in from
    ``details``; None when no such guest exists at this restaurant."""
    row = conn.execute(
        select(guests).where(guests.c.restaurant_id == restaurant_id, guests.c.id == guest_id)
    ).one_or_none()
    if row is None:
        return None
    filled = _fill_blanks(conn, restaurant_id, row, details, now)
    filled.pop("updated_at", None)
    return replace(guest_view(row), **filled)


def create(conn: Connection, restaurant_id: int, details: GuestDetails, now: datetime) -> GuestView:
    """A new guest without contact details (a chat identity nobody has linked yet)."""
    result = conn.execute(
        insert(guests).values(
            restaurant_id=restaurant_id,
            name=details.name,
            language=details.language,
            notes=details.notes,
            allergies=list(details.allergies),
            tags=list(details.tags),
            visit_count=0,
            no_show_count=0,
            created_at=now,
            updated_at=now,
        )
    )
    assert result.inserted_primary_key is not None
    return GuestView(
        id=int(result.inserted_primary_key[0]),
        name=details.name,
        phone=None,
        email=None,
        language=details.language,
        visit_count=0,
        no_show_count=0,
    )


def _fill_blanks(
    conn: Connection, restaurant_id: int, row: Any, details: GuestDetails, now: datetime
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if details.name and not row.name:
        changes["name"] = details.name
    if details.language and not row.language:
        changes["language"] = details.language
    if details.email and not row.email:
        taken = conn.execute(
            select(guests.c.id).where(
                guests.c.restaurant_id == restaurant_id, guests.c.email == details.email
            )
        ).first()
        if taken is None:
            changes["email"] = details.email
    if changes:
        changes["updated_at"] = now
        conn.execute(update(guests).where(guests.c.id == row.id).values(**changes))
    return changes


def guest_view(row: Any) -> GuestView:
    """A guest's view from a row that has the view's columns."""
    return GuestView(
        id=int(row.id),
        name=row.name,
        phone=row.phone,
        email=row.email,
        language=row.language,
        visit_count=row.visit_count,
        no_show_count=row.no_show_count,
    )


def name_and_language(conn: Connection, guest_id: int) -> tuple[str, str | None] | None:
    """The name the guest is known by and the language they booked in (None: no guest)."""
    found = conn.execute(
        select(guests.c.name, guests.c.language).where(guests.c.id == guest_id)
    ).first()
    return None if found is None else (found.name or "", found.language)


def belongs_to(conn: Connection, restaurant_id: int, guest_id: int) -> bool:
    """Whether the guest is one of the restaurant's."""
    found = conn.execute(
        select(guests.c.id).where(guests.c.id == guest_id, guests.c.restaurant_id == restaurant_id)
    ).first()
    return found is not None


def take_contact(conn: Connection, guest_id: int, column: str, value: str, now: datetime) -> bool:
    """Give the guest a phone number or an email address (``column``); False when
    another guest of the restaurant holds it (the transaction carries on: the
    attempt runs in a savepoint)."""
    try:
        with conn.begin_nested():
            conn.execute(
                update(guests)
                .where(guests.c.id == guest_id)
                .values({column: value, "updated_at": now})
            )
    except IntegrityError:
        return False
    return True


def allergies_of(conn: Connection, guest_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The allergies of the guests that have any, by guest id: what the host's
    floor shows next to each booking, read in one statement for the whole day."""
    if not guest_ids:
        return {}
    rows = conn.execute(
        select(guests.c.id, guests.c.allergies).where(guests.c.id.in_(sorted(set(guest_ids))))
    )
    return {
        int(row.id): tuple(str(a) for a in row.allergies)
        for row in rows
        if isinstance(row.allergies, list) and row.allergies
    }


class GuestRepository(Repository):
    """A restaurant's guests."""

    find_or_create = bound(find_or_create)
    known = bound(known)
    create = bound(create)
    name_and_language = bound(name_and_language)
    belongs_to = bound(belongs_to)
    take_contact = bound(take_contact)
    allergies_of = bound(allergies_of)
