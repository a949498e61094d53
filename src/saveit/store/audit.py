"""The double-booking audit's query: active reservations sharing a table at
overlapping times, buffers included. The claims index makes this impossible;
the audit checks the invariant from the reservations themselves, independently
of the mechanism that is supposed to keep it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from saveit.domain.model import ACTIVE_STATUSES
from saveit.store.repository import Repository, bound
from saveit.store.schema import dining_tables, reservation_tables, reservations

_ACTIVE = [s.value for s in ACTIVE_STATUSES]


@dataclass(frozen=True, slots=True)
class Overlap:
    """Two reservations holding one table at once (codes and times only: no guest data)."""

    restaurant_id: int
    table: str
    first: str
    first_start: datetime
    first_stop: datetime  # end plus buffer
    second: str
    second_start: datetime
    second_stop: datetime


def overlaps(conn: Connection, *, ending_after: datetime | None = None) -> list[Overlap]:
    """Every overlapping pair (``ending_after``: only reservations ending after it)."""
    a, b = reservations.alias("a"), reservations.alias("b")
    ta, tb = reservation_tables.alias("ta"), reservation_tables.alias("tb")
    query = (
        select(
            a.c.restaurant_id,
            dining_tables.c.code,
            a.c.code.label("a_code"),
            a.c.start_at.label("a_start"),
            a.c.end_at.label("a_end"),
            a.c.buffer_minutes.label("a_buffer"),
            b.c.code.label("b_code"),
            b.c.start_at.label("b_start"),
            b.c.end_at.label("b_end"),
            b.c.buffer_minutes.label("b_buffer"),
        )
        .select_from(a)
        .join(ta, ta.c.reservation_id == a.c.id)
        .join(tb, tb.c.table_id == ta.c.table_id)
        .join(b, b.c.id == tb.c.reservation_id)
        .join(dining_tables, dining_tables.c.id == ta.c.table_id)
        .where(a.c.id < b.c.id, a.c.status.in_(_ACTIVE), b.c.status.in_(_ACTIVE))
        .order_by(a.c.id, b.c.id)
    )
    if ending_after is not None:
        query = query.where(a.c.end_at > ending_after, b.c.end_at > ending_after)
    found: list[Overlap] = []
    for row in conn.execute(query):
        a_stop = row.a_end + timedelta(minutes=row.a_buffer)
        b_stop = row.b_end + timedelta(minutes=row.b_buffer)
        if row.a_start < b_stop and row.b_start < a_stop:
            found.append(
                Overlap(
                    int(row.restaurant_id),
                    row.code,
                    row.a_code,
                    row.a_start,
                    a_stop,
                    row.b_code,
                    row.b_start,
                    b_stop,
                )
            )
    return found


class AuditRepository(Repository):
    """The double-booking auditor's reads."""

    overlaps = bound(overlaps)
