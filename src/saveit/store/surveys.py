"""Satisfaction surveys: which visits are due one, the sent-record (one per
booking: the unique key), opt-outs, answers, and the restaurant's switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from saveit.store.schema import (
    channel_accounts,
    guest_surveys,
    guests,
    reservations,
    restaurants,
    survey_opt_outs,
    survey_settings,
)

OPEN = "sent"
ANSWERED = "answered"


@dataclass(frozen=True, slots=True)
class DueVisit:
    reservation_id: int
    code: str
    restaurant_id: int
    guest_id: int | None
    source: str
    start: datetime
    end: datetime
    language: str | None
    delay_minutes: int
    enabled: bool  # the restaurant's switch


@dataclass(frozen=True, slots=True)
class Survey:
    id: int
    restaurant_id: int
    reservation_id: int
    reservation_code: str
    guest_id: int | None
    conversation_id: int | None
    day: date
    service: str
    channel: str
    language: str
    status: str
    rating: int | None
    comment: str | None
    created_at: datetime
    answered_at: datetime | None


def due(conn: Connection, now: datetime, since: datetime, *, limit: int = 200) -> list[DueVisit]:
    """Visits over (completed, or checked in and past their end) since ``since``,
    with no survey record yet."""
    r = reservations
    s = survey_settings
    query = (
        select(
            r.c.id,
            r.c.code,
            r.c.restaurant_id,
            r.c.guest_id,
            r.c.source,
            r.c.start_at,
            r.c.end_at,
            guests.c.language,
            s.c.delay_minutes,
            s.c.enabled,
        )
        .select_from(
            r.outerjoin(s, s.c.restaurant_id == r.c.restaurant_id).outerjoin(
                guests, guests.c.id == r.c.guest_id
            )
        )
        .where(
            or_(
                r.c.status == "completed",
                and_(r.c.status == "checked_in", r.c.end_at <= now),
            ),
            r.c.end_at >= since,
            ~exists().where(guest_surveys.c.reservation_id == r.c.id),
        )
        .order_by(r.c.end_at)
        .limit(limit)
    )
    return [
        DueVisit(
            reservation_id=row.id,
            code=row.code,
            restaurant_id=row.restaurant_id,
            guest_id=row.guest_id,
            source=row.source,
            start=row.start_at,
            end=row.end_at,
            language=row.language,
            delay_minutes=int(row.delay_minutes or 0),
            enabled=row.enabled is None or bool(row.enabled),
        )
        for row in conn.execute(query)
    ]


def opted_out(conn: Connection, restaurant_id: int, guest_id: int) -> bool:
    o = survey_opt_outs
    found = conn.execute(
        select(o.c.guest_id).where(o.c.restaurant_id == restaurant_id, o.c.guest_id == guest_id)
    ).first()
    return found is not None


def opt_out(conn: Connection, restaurant_id: int, guest_id: int, via: str, now: datetime) -> None:
    base = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        base(survey_opt_outs)
        .values(restaurant_id=restaurant_id, guest_id=guest_id, at=now, via=via)
        .on_conflict_do_nothing()
    )


def asked_since(conn: Connection, guest_id: int, since: datetime) -> bool:
    """Whether the guest was sent a survey (answered or not) since ``since``."""
    s = guest_surveys
    found = conn.execute(
        select(s.c.id).where(
            s.c.guest_id == guest_id,
            s.c.created_at >= since,
            s.c.status.in_((OPEN, ANSWERED)),
        )
    ).first()
    return found is not None


def record(conn: Connection, values: dict[str, Any]) -> int | None:
    """The survey's record; None when the booking has one already."""
    base = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    row = conn.execute(
        base(guest_surveys)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["reservation_id"])
        .returning(guest_surveys.c.id)
    ).first()
    return None if row is None else int(row[0])


def set_conversation(conn: Connection, survey_id: int, conversation_id: int) -> None:
    conn.execute(
        update(guest_surveys)
        .where(guest_surveys.c.id == survey_id)
        .values(conversation_id=conversation_id)
    )


def _query() -> Any:
    s = guest_surveys
    return select(s, reservations.c.code.label("reservation_code")).select_from(
        s.join(reservations, reservations.c.id == s.c.reservation_id)
    )


def _survey(row: Any) -> Survey:
    return Survey(
        id=row.id,
        restaurant_id=row.restaurant_id,
        reservation_id=row.reservation_id,
        reservation_code=row.reservation_code,
        guest_id=row.guest_id,
        conversation_id=row.conversation_id,
        day=row.day,
        service=row.service,
        channel=row.channel,
        language=row.language,
        status=row.status,
        rating=row.rating,
        comment=row.comment,
        created_at=row.created_at,
        answered_at=row.answered_at,
    )


def latest_of_conversation(conn: Connection, conversation_id: int) -> Survey | None:
    """The conversation's latest survey that was sent (open or answered)."""
    s = guest_surveys
    row = conn.execute(
        _query()
        .where(s.c.conversation_id == conversation_id, s.c.status.in_((OPEN, ANSWERED)))
        .order_by(s.c.created_at.desc(), s.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _survey(row)


def answer(
    conn: Connection, survey_id: int, rating: int, comment: str | None, now: datetime
) -> bool:
    s = guest_surveys
    return bool(
        conn.execute(
            update(s)
            .where(s.c.id == survey_id, s.c.status == OPEN)
            .values(status=ANSWERED, rating=rating, comment=comment, answered_at=now)
        ).rowcount
    )


def add_comment(conn: Connection, survey_id: int, comment: str) -> bool:
    s = guest_surveys
    return bool(
        conn.execute(
            update(s)
            .where(s.c.id == survey_id, s.c.status == ANSWERED, s.c.comment.is_(None))
            .values(comment=comment)
        ).rowcount
    )


def of_guest(conn: Connection, restaurant_id: int, guest_id: int) -> list[Survey]:
    s = guest_surveys
    rows = conn.execute(
        _query()
        .where(s.c.restaurant_id == restaurant_id, s.c.guest_id == guest_id)
        .order_by(s.c.created_at.desc(), s.c.id.desc())
    )
    return [_survey(row) for row in rows]


def of_reservation(conn: Connection, code: str) -> Survey | None:
    row = conn.execute(_query().where(reservations.c.code == code)).first()
    return None if row is None else _survey(row)


def settings(conn: Connection, restaurant_id: int) -> tuple[bool, int]:
    row = conn.execute(
        select(survey_settings.c.enabled, survey_settings.c.delay_minutes).where(
            survey_settings.c.restaurant_id == restaurant_id
        )
    ).first()
    return (True, 0) if row is None else (bool(row.enabled), int(row.delay_minutes))


def set_settings(
    conn: Connection, restaurant_id: int, enabled: bool, delay_minutes: int, now: datetime
) -> None:
    base = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = {"enabled": enabled, "delay_minutes": delay_minutes, "updated_at": now}
    conn.execute(
        base(survey_settings)
        .values(restaurant_id=restaurant_id, **values)
        .on_conflict_do_update(index_elements=["restaurant_id"], set_=values)
    )


def whatsapp_template(conn: Connection, restaurant_id: int) -> bool:
    """Whether the restaurant's WhatsApp account names an approved template (what
    goes out outside the 24-hour window)."""
    row = conn.execute(
        select(channel_accounts.c.settings).where(
            and_(
                channel_accounts.c.restaurant_id == restaurant_id,
                channel_accounts.c.channel == "whatsapp",
            )
        )
    ).first()
    return row is not None and bool((row.settings or {}).get("template_name"))


def restaurant_id_of(conn: Connection, slug: str) -> int | None:
    row = conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug)).first()
    return None if row is None else int(row.id)


class SurveyRepository:
    """Surveys, bound to one unit of work's connection."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def due(self, now: datetime, since: datetime, *, limit: int = 200) -> list[DueVisit]:
        return due(self.connection, now, since, limit=limit)

    def opted_out(self, restaurant_id: int, guest_id: int) -> bool:
        return opted_out(self.connection, restaurant_id, guest_id)

    def opt_out(self, restaurant_id: int, guest_id: int, via: str, now: datetime) -> None:
        opt_out(self.connection, restaurant_id, guest_id, via, now)

    def asked_since(self, guest_id: int, since: datetime) -> bool:
        return asked_since(self.connection, guest_id, since)

    def record(self, values: dict[str, Any]) -> int | None:
        return record(self.connection, values)

    def set_conversation(self, survey_id: int, conversation_id: int) -> None:
        set_conversation(self.connection, survey_id, conversation_id)

    def latest_of_conversation(self, conversation_id: int) -> Survey | None:
        return latest_of_conversation(self.connection, conversation_id)

    def answer(self, survey_id: int, rating: int, comment: str | None, now: datetime) -> bool:
        return answer(self.connection, survey_id, rating, comment, now)

    def add_comment(self, survey_id: int, comment: str) -> bool:
        return add_comment(self.connection, survey_id, comment)

    def of_guest(self, restaurant_id: int, guest_id: int) -> list[Survey]:
        return of_guest(self.connection, restaurant_id, guest_id)

    def of_reservation(self, code: str) -> Survey | None:
        return of_reservation(self.connection, code)

    def settings(self, restaurant_id: int) -> tuple[bool, int]:
        return settings(self.connection, restaurant_id)

    def set_settings(
        self, restaurant_id: int, enabled: bool, delay_minutes: int, now: datetime
    ) -> None:
        set_settings(self.connection, restaurant_id, enabled, delay_minutes, now)

    def whatsapp_template(self, restaurant_id: int) -> bool:
        return whatsapp_template(self.connection, restaurant_id)

    def restaurant_id_of(self, slug: str) -> int | None:
        return restaurant_id_of(self.connection, slug)
