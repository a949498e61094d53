"""The combined parser: normal form, language, intent and slots in one call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from saveit.conversation.nlu import Parse, parse
from saveit.domain.model import ServiceHours

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=MADRID)  # a Saturday
LUNCH = ServiceHours(time(13, 0), time(16, 0), "lunch")
DINNER = ServiceHours(time(20, 0), time(23, 30), "dinner")
MORNING = ServiceHours(time(8, 0), time(12, 0), "breakfast")


def both(_: date) -> Sequence[ServiceHours]:
    return (LUNCH, DINNER)


def test_end_to_end_spanish() -> None:
    p = parse(
        "Hola! Quería reservar mesa para 4 mañana a las 9, a nombre de Carmen López",
        now=NOW,
        services=both,
    )
    assert p == Parse(
        intent="book",
        lang="es",
        date=date(2026, 11, 29),
        time=time(21, 0),
        party_size=4,
        name="Carmen López",
    )


def test_end_to_end_english_chat_style() -> None:
    p = parse("hi pls book me a table 2moro at half past eight, just me 😊", now=NOW)
    assert (p.intent, p.lang, p.date, p.time, p.party_size) == (
        "book",
        "en",
        date(2026, 11, 29),
        time(20, 30),
        1,
    )


def test_chat_shorthand_and_no_accents() -> None:
    p = parse("HOLA kiero reservar mesa x 4 pa mñn a las 21h xfa", now=NOW)
    assert (p.intent, p.lang, p.date, p.time, p.party_size) == (
        "book",
        "es",
        date(2026, 11, 29),
        time(21, 0),
        4,
    )


def test_an_hour_is_placed_in_the_services_of_the_named_day() -> None:
    def by_day(day: date) -> Sequence[ServiceHours]:
        return (MORNING,) if day == date(2026, 11, 29) else (DINNER,)

    assert parse("mañana a las 9", now=NOW, services=by_day).time == time(9, 0)
    assert parse("el lunes a las 9", now=NOW, services=by_day).time == time(21, 0)


def test_without_a_day_the_services_of_the_coming_week_decide() -> None:
    asked: list[date] = []

    def breakfast_only(day: date) -> Sequence[ServiceHours]:
        asked.append(day)
        return (MORNING,)

    assert parse("a las 9 por favor", now=NOW, services=breakfast_only).time == time(9, 0)
    assert asked == [date(2026, 11, 28 + i) for i in range(3)] + [
        date(2026, 12, i) for i in range(1, 5)
    ]


def test_without_services_an_hour_is_pm() -> None:
    assert parse("a las 9", now=NOW).time == time(21, 0)
    assert parse("a las 2", now=NOW).time == time(14, 0)


def test_nothing_invented() -> None:
    for text in ("hola", "¿tenéis opciones veganas?", "what's the wifi password", "ok"):
        p = parse(text, now=NOW, services=both)
        assert (p.date, p.time, p.party_size, p.name, p.area) == (None,) * 5, text


def test_phrases_that_look_like_slots_state_none() -> None:
    assert parse("quiero hablar con una persona", now=NOW).party_size is None
    assert parse("una persona más para la reserva de hoy", now=NOW).party_size is None
    assert parse("could we add 2 more people", now=NOW).party_size is None
    assert parse("muchas gracias, hasta mañana!", now=NOW).date is None
    assert parse("¿el menú de mediodía incluye bebida?", now=NOW).time is None


def test_language_hint_breaks_ties() -> None:
    assert parse("21:30", now=NOW, lang_hint="en").lang == "en"
    assert parse("21:30", now=NOW).lang == "es"


def test_smaller_slots() -> None:
    p = parse("cancelar reserva K7M2QXH4, la segunda", now=NOW)
    assert (p.intent, p.code, p.ordinal) == ("cancel", "K7M2QXH4", 2)
    assert parse("sí, perfecto", now=NOW).affirm is True
    assert parse("en la terraza si puede ser", now=NOW).area == "terrace"


def test_to_json_shape() -> None:
    data = parse("table for 2 tonight at 8", now=NOW).to_json()
    assert list(data)[:6] == ["intent", "lang", "date", "time", "party_size", "name"]
    assert (data["date"], data["time"]) == ("2026-11-28", "20:00")
