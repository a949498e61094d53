"""A hand-built fortnight at the demo restaurant (Europe/Madrid, lunch 13–16 and
dinner 20–23:30, seven tables), across the end of summer time (Sunday
2026-10-25): bookings on four channels, a walk-in, a cancellation, a no-show, a
waitlist hold, refused attempts, guests' messages with bot replies, a handoff
and surveys. Written straight into the tables, so every figure the analytics
compute from it can be worked out by hand (tests/integration/test_analytics_figures.py)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from saveit.store.schema import (
    analytics_handoffs,
    booking_refusals,
    channel_messages,
    conversations,
    dining_tables,
    guest_surveys,
    guests,
    reservation_tables,
    reservations,
    restaurants,
)

MADRID = ZoneInfo("Europe/Madrid")
_ids = itertools.count(1)


def local(text: str) -> datetime:
    """'2026-10-19 13:00' in Madrid, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=MADRID)


def _guest(conn: Connection, rid: int, name: str, phone: str) -> int:
    at = local("2026-10-01 12:00")
    return int(
        conn.execute(
            insert(guests)
            .values(
                restaurant_id=rid,
                name=name,
                phone=phone,
                language="es",
                notes="",
                allergies=[],
                tags=[],
                visit_count=0,
                no_show_count=0,
                created_at=at,
                updated_at=at,
            )
            .returning(guests.c.id)
        ).scalar_one()
    )


def _booking(
    conn: Connection,
    rid: int,
    tables: dict[str, int],
    *,
    guest: int | None,
    start: str,
    minutes: int,
    party: int,
    status: str,
    source: str,
    by: str,
    made: str,
    changed: str | None = None,
    on: tuple[str, ...] = (),
) -> int:
    begin = local(start)
    reservation_id = int(
        conn.execute(
            insert(reservations)
            .values(
                code=f"R{rid}X{next(_ids)}",
                restaurant_id=rid,
                guest_id=guest,
                party_size=party,
                start_at=begin,
                end_at=begin + timedelta(minutes=minutes),
                buffer_minutes=15,
                status=status,
                source=source,
                notes="",
                created_by=by,
                created_at=local(made),
                updated_at=local(changed or made),
                version=1,
            )
            .returning(reservations.c.id)
        ).scalar_one()
    )
    for code in on:
        conn.execute(
            insert(reservation_tables).values(reservation_id=reservation_id, table_id=tables[code])
        )
    return reservation_id


def _conversation(conn: Connection, rid: int, guest: int) -> int:
    at = local("2026-10-01 12:00")
    return int(
        conn.execute(
            insert(conversations)
            .values(
                restaurant_id=rid,
                guest_id=guest,
                language="es",
                state={},
                offered=[],
                handoff=False,
                version=1,
                last_message_at=at,
                created_at=at,
            )
            .returning(conversations.c.id)
        ).scalar_one()
    )


def _message(
    conn: Connection,
    rid: int,
    conversation: int,
    channel: str,
    direction: str,
    at: datetime,
    *,
    note: str | None = None,
    sent: datetime | None = None,
) -> None:
    n = next(_ids)
    conn.execute(
        insert(channel_messages).values(
            public_id=f"m{rid}x{n}",
            restaurant_id=rid,
            direction=direction,
            channel=channel,
            provider_message_id=f"p{rid}x{n}",
            address=f"addr{conversation}",
            conversation_id=conversation,
            status="received" if direction == "in" else "sent",
            text="hola",
            body={},
            raw="",
            author="guest" if direction == "in" else "bot",
            attempts=0,
            error_code=note,
            created_at=at,
            updated_at=sent or at,
            processed_at=sent or at,
        )
    )


def _exchange(
    conn: Connection,
    rid: int,
    conversation: int,
    channel: str,
    when: str,
    reply_ms: int | None,
    note: str | None = None,
) -> None:
    at = local(when)
    _message(conn, rid, conversation, channel, "in", at, note=note)
    if reply_ms is not None:
        _message(
            conn,
            rid,
            conversation,
            channel,
            "out",
            at + timedelta(milliseconds=300),
            sent=at + timedelta(milliseconds=reply_ms),
        )


def _survey(
    conn: Connection,
    rid: int,
    reservation: int,
    guest: int | None,
    *,
    day: str,
    service: str,
    channel: str,
    status: str,
    rating: int | None = None,
    comment: str | None = None,
    answered: str | None = None,
) -> None:
    conn.execute(
        insert(guest_surveys).values(
            restaurant_id=rid,
            reservation_id=reservation,
            guest_id=guest,
            day=datetime.fromisoformat(day).date(),
            service=service,
            channel=channel,
            language="es",
            status=status,
            rating=rating,
            comment=comment,
            created_at=local(day + " 23:59"),
            answered_at=local(answered) if answered else None,
        )
    )


def build_fortnight(conn: Connection, slug: str) -> int:
    """Write the fortnight into restaurant ``slug``; returns its id."""
    rid = int(conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug)).scalar_one())
    tables = {
        row.code: row.id
        for row in conn.execute(
            select(dining_tables.c.code, dining_tables.c.id).where(
                dining_tables.c.restaurant_id == rid
            )
        )
    }
    ana = _guest(conn, rid, "Ana", f"+3460000{rid}001")
    ben = _guest(conn, rid, "Ben", f"+3460000{rid}002")
    carla = _guest(conn, rid, "Carla", f"+3460000{rid}003")
    b = dict(conn=conn, rid=rid, tables=tables)
    r1 = _booking(
        **b,
        guest=ana,
        start="2026-10-19 13:00",
        minutes=90,
        party=2,  # type: ignore[arg-type]
        status="completed",
        source="whatsapp",
        by=f"guest:{ana}",
        made="2026-10-17 13:00",
        on=("T1",),
    )
    _booking(
        **b,
        guest=ben,
        start="2026-10-19 20:00",
        minutes=120,
        party=4,  # type: ignore[arg-type]
        status="no_show",
        source="web",
        by="guest:web",
        made="2026-10-19 15:00",
        on=("T3",),
    )
    _booking(
        **b,
        guest=carla,
        start="2026-10-20 21:00",
        minutes=90,
        party=2,  # type: ignore[arg-type]
        status="cancelled",
        source="phone",
        by="staff:ana",
        made="2026-10-10 12:00",
        changed="2026-10-20 20:00",
        on=("T2",),
    )
    r4 = _booking(
        **b,
        guest=None,
        start="2026-10-25 13:30",
        minutes=120,
        party=3,  # type: ignore[arg-type]
        status="completed",
        source="walk_in",
        by="staff:ana",
        made="2026-10-25 13:30",
        on=("T4",),
    )
    r5 = _booking(
        **b,
        guest=ana,
        start="2026-10-31 20:00",
        minutes=90,
        party=2,  # type: ignore[arg-type]
        status="completed",
        source="whatsapp",
        by=f"guest:{ana}",
        made="2026-10-24 12:00",
        on=("T2",),
    )
    r6 = _booking(
        **b,
        guest=ben,
        start="2026-10-31 13:00",
        minutes=150,
        party=6,  # type: ignore[arg-type]
        status="completed",
        source="web",
        by="guest:web",
        made="2026-10-30 13:00",
        on=("T4", "T5"),
    )
    _booking(
        **b,
        guest=carla,
        start="2026-10-31 21:00",
        minutes=90,
        party=2,  # type: ignore[arg-type]
        status="held",
        source="web",
        by="system:waitlist",
        made="2026-10-31 18:00",
        on=("T1",),
    )
    for at, channel, code in (
        ("2026-10-19 12:00", "web", "SLOT_TAKEN"),
        ("2026-10-30 10:00", "whatsapp", "TOO_SOON"),
    ):
        conn.execute(
            insert(booking_refusals).values(
                restaurant_id=rid, at=local(at), channel=channel, code=code, party_size=2
            )
        )
    c_ana = _conversation(conn, rid, ana)
    c_ben = _conversation(conn, rid, ben)
    c_carla = _conversation(conn, rid, carla)
    _exchange(conn, rid, c_ana, "whatsapp", "2026-10-24 11:50", 3000)
    _exchange(conn, rid, c_ana, "whatsapp", "2026-10-24 11:55", 2000, note="NOT_UNDERSTOOD")
    _exchange(conn, rid, c_ben, "webchat", "2026-10-19 14:00", 1000)
    _exchange(conn, rid, c_ben, "webchat", "2026-10-21 10:00", 12000)
    _exchange(conn, rid, c_carla, "sms", "2026-10-26 18:00", None, note="HANDED_OFF")
    _exchange(conn, rid, c_ben, "webchat", "2026-10-30 12:30", 4000)
    conn.execute(
        insert(analytics_handoffs).values(
            event_id=f"handoff-{rid}",
            restaurant_id=rid,
            conversation_id=c_carla,
            at=local("2026-10-26 18:01"),
            by="bot",
        )
    )
    _survey(
        conn,
        rid,
        r1,
        ana,
        day="2026-10-19",
        service="lunch",
        channel="whatsapp",
        status="answered",
        rating=5,
        comment="Todo perfecto",
        answered="2026-10-20 10:00",
    )
    _survey(
        conn,
        rid,
        r5,
        ana,
        day="2026-10-31",
        service="dinner",
        channel="whatsapp",
        status="answered",
        rating=2,
        comment="Frío",
        answered="2026-11-01 10:00",
    )
    _survey(conn, rid, r6, ben, day="2026-10-31", service="lunch", channel="webchat", status="sent")
    _survey(
        conn,
        rid,
        r4,
        None,
        day="2026-10-25",
        service="lunch",
        channel="",
        status="skipped:no_guest",
    )
    return rid


def every(figures: Any) -> dict[str, Any]:
    return figures.model_dump(mode="json", by_alias=True)  # type: ignore[no-any-return]
