"""Every text column of a guest-related table is classified: erased with the guest,
or named as holding nothing personal. A column someone adds without deciding
which fails here, before it can keep a guest's data past their erasure."""

from __future__ import annotations

from sqlalchemy import JSON, String, Table

from saveit.store.personal_data import NOT_PERSONAL, PERSONAL
from saveit.store.schema import guests, metadata


def _guest_related() -> set[Table]:
    """Tables whose foreign keys lead to ``guests`` (at any depth), and every table
    the classification names."""
    named = {e.table.name for e in PERSONAL} | set(NOT_PERSONAL)
    related = {guests} | {t for t in metadata.sorted_tables if t.name in named}
    grew = True
    while grew:
        grew = False
        for table in metadata.sorted_tables:
            if table not in related and any(
                fk.column.table in related for fk in table.foreign_keys
            ):
                related.add(table)
                grew = True
    return related


def _text_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, String | JSON)}


def test_every_text_column_of_a_guest_related_table_is_classified() -> None:
    personal = {(e.table.name, column) for e in PERSONAL for column in e.columns}
    kept = {(table, column) for table, columns in NOT_PERSONAL.items() for column in columns}
    unclassified = sorted(
        (table.name, column)
        for table in _guest_related()
        for column in _text_columns(table)
        if (table.name, column) not in personal | kept
    )
    assert unclassified == [], (
        "classify these in saveit/store/personal_data.py (PERSONAL or NOT_PERSONAL)"
    )


def test_the_classification_names_only_columns_that_exist_once() -> None:
    personal = [(e.table.name, column) for e in PERSONAL for column in e.columns]
    kept = [(table, column) for table, columns in NOT_PERSONAL.items() for column in columns]
    existing = {(t.name, c.name) for t in metadata.sorted_tables for c in t.columns}
    assert sorted(set(personal + kept) - existing) == []
    assert len(set(personal)) == len(personal)
    assert set(personal) & set(kept) == set()


def test_the_tables_that_hold_a_guests_words_are_guest_related() -> None:
    names = {t.name for t in _guest_related()}
    assert {
        "guests",
        "channel_identities",
        "channel_messages",
        "conversations",
        "link_codes",
        "reservations",
        "reservation_log",
        "notifications",
        "outbox",
    } <= names
