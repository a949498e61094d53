"""Dates and times as guests write them, one test per form, read at Saturday
28 November 2026 noon at the demo restaurant (lunch 13-16, dinner 20-23:30).

The phrasings here are not those of the held-out set (``eval/datetimes.jsonl``):
they check that each form is read as a form, not as a list of strings.
"""

from __future__ import annotations

from datetime import date, time

import pytest

from saveit.conversation.ambiguity import Ambiguity
from saveit.conversation.evaluate import NOW, SERVICES
from saveit.conversation.nlu import Parse, parse
from saveit.domain.model import ServiceHours

BREAKFAST_AND_DINNER = (
    ServiceHours(time(8, 0), time(11, 30), "breakfast"),
    ServiceHours(time(20, 0), time(23, 30), "dinner"),
)


def read(text: str, services: tuple[ServiceHours, ...] = SERVICES) -> Parse:
    return parse(text, now=NOW, services=lambda _: services)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mesa esta tarde a las 3", time(15)),
        ("table this afternoon at 1", time(13)),
        ("reserva para el martes, once de la noche", time(23)),
        ("mesa el jueves a 9", time(21)),
        ("8 tomorrow evening, table for 2", time(20)),
    ],
)
def test_a_part_of_day_with_a_small_hour(text: str, expected: time) -> None:
    """Fails before the fix: "esta tarde a las 3" was 03:00 and "once de la noche",
    "a 9" and "8 tomorrow evening" no time at all."""
    assert read(text).time == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("table at ten past 8pm", time(20, 10)),
        ("table at twenty past noon", time(12, 20)),
        ("reserva a las ocho y cuarenta y cinco", time(20, 45)),
        ("mesa a las dos menos cuarto", time(13, 45)),
        ("table at ten fifty tonight", time(22, 50)),
        ("book half nine tomorrow", time(21, 30)),
    ],
)
def test_minutes_in_words_and_fractions(text: str, expected: time) -> None:
    """Fails before the fix: minutes after a glued "pm", after noon, "cuarenta y cinco",
    "dos menos cuarto" (read as a change of party) and "half nine" were lost."""
    assert read(text).time == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mesa a las 20h15", time(20, 15)),
        ("table at 8:30p", time(20, 30)),
        ("table 10p tomorrow", time(22)),
        ("table at 915 in the evening", time(21, 15)),
        ("table 1015 p.m. tomorrow", time(22, 15)),
        ("mesa a las 2200", time(22)),
    ],
)
def test_compact_and_clipped_times(text: str, expected: time) -> None:
    """Fails before the fix: none of these carried a time."""
    assert read(text).time == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mesa el catorce de febrero", date(2027, 2, 14)),
        ("mesa el día veintiséis", date(2026, 12, 26)),
        ("table on the ninth of next month", date(2026, 12, 9)),
        ("table on 9 of next month", date(2026, 12, 9)),
        ("mesa el 2027-03-01", date(2027, 3, 1)),
        ("table tomorow", date(2026, 11, 29)),
        ("mesa para mañna", date(2026, 11, 29)),
        ("table on firday", date(2026, 12, 4)),
        ("the sixteenth of december", date(2026, 12, 16)),
    ],
)
def test_days_in_words_ordinals_numbers_and_typos(text: str, expected: date) -> None:
    """Fails before the fix: days in words, ISO dates, "9 of next month" and these
    typos gave no day."""
    assert read(text).date == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("table thursday after next", date(2026, 12, 10)),
        ("mesa el domingo de la semana siguiente", date(2026, 12, 6)),
        ("table on the third friday of january", date(2027, 1, 15)),
        ("table on the last sunday of february", date(2027, 2, 28)),
        ("mesa el primer martes de marzo", date(2027, 3, 2)),
        ("mesa el último lunes de diciembre", date(2026, 12, 28)),
        ("mesa dentro de cinco días", date(2026, 12, 3)),
        ("table in 4 days", date(2026, 12, 2)),
    ],
)
def test_relative_weeks_and_months(text: str, expected: date) -> None:
    """Fails before the fix: these were read as the coming weekday, or as nothing."""
    assert read(text).date == expected


def test_a_weekday_and_a_date_that_agree_give_the_date() -> None:
    assert read("mesa el mié 16").date == date(2026, 12, 16)
    assert read("table on Thu 17th").date == date(2026, 12, 17)


@pytest.mark.parametrize(
    ("text", "said", "numbered"),
    [
        ("mesa el jue 22", date(2026, 12, 3), date(2026, 12, 22)),
        ("table on Mon 23rd", date(2026, 11, 30), date(2026, 12, 23)),
        ("mesa el sábado 17 a las 21:00", date(2026, 11, 28), date(2026, 12, 17)),
        ("table on friday december 10th", date(2026, 12, 4), date(2026, 12, 10)),
    ],
)
def test_a_weekday_that_disagrees_with_its_date_is_asked(
    text: str, said: date, numbered: date
) -> None:
    """Fails before the fix: one of the two days was picked without a word."""
    got = read(text)
    assert got.date is None
    assert got.ambiguity == Ambiguity("weekday_date", dates=(said, numbered))


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("party of 2, friday, 21:00", "book"),
        ("3 personas, mañana, 14:00", "book"),
        ("nosotros 4 el domingo 14h", "book"),
        ("¿qué horas libres tenéis el domingo?", "check_availability"),
        ("¿qué horarios tenéis disponibles el lunes?", "check_availability"),
        ("which times are still open on sunday?", "check_availability"),
    ],
)
def test_requests_without_a_verb(text: str, intent: str) -> None:
    """Fails before the fix: listed facts were "unknown" and a question about free
    times was read as one about opening hours, or not at all."""
    assert read(text).intent == intent


def test_facts_alone_without_a_day_still_answer_the_pending_question() -> None:
    assert read("for 2 at 10").intent == "unknown"
    assert read("we'll be 3 tonight at 9, ok?").intent == "unknown"


@pytest.mark.parametrize(
    ("text", "times", "part"),
    [
        ("mesa esta noche a las 13:00", (time(13),), "night"),
        ("lunch table at 21:30", (time(21, 30),), "lunch"),
        ("table tomorrow night at 10am", (time(10), time(22)), None),
        ("para cenar a las 2 de la tarde", (time(14),), "night"),
        ("table this morning at 20:00", (time(20),), "morning"),
    ],
)
def test_a_time_that_contradicts_the_part_of_day_is_asked(
    text: str, times: tuple[time, ...], part: str | None
) -> None:
    """Fails before the fix: the time was taken and the part of day ignored."""
    got = read(text)
    assert got.time is None
    assert got.ambiguity == Ambiguity("part_of_day", times=times, part=part)


def test_an_hour_in_two_services_is_asked() -> None:
    """Fails before the fix: "a las 9" at a breakfast and dinner place was 21:00."""
    got = read("mesa mañana a las 9", BREAKFAST_AND_DINNER)
    assert got.time is None
    assert got.ambiguity == Ambiguity("two_services", times=(time(9), time(21)))
    assert read("mesa mañana a las 9 de la noche", BREAKFAST_AND_DINNER).time == time(21)
    assert read("mesa mañana a las 9", SERVICES).time == time(21)  # one service fits


def test_twelve_for_dinner_is_asked_not_read_as_midnight() -> None:
    """Fails before the fix: "para cenar … a las 12:30" was 00:30, confidently."""
    got = read("mesa para cenar hoy a las 12:30")
    assert got.time is None
    assert got.ambiguity is not None
    assert got.ambiguity.kind == "part_of_day"
    assert read("mesa hoy a las 12 de la noche").time == time(0)  # said at the time


@pytest.mark.parametrize("text", ["mesa esta tarde a las 2", "table this afternoon at 2"])
def test_a_small_hour_this_afternoon_is_not_night(text: str) -> None:
    """Fails before the fix: read as 02:00."""
    assert read(text).time == time(14)


@pytest.mark.parametrize("text", ["4 tonight", "2 esta noche", "4 tomorrow night", "mesa para 2"])
def test_a_count_before_a_part_of_day_is_no_time(text: str) -> None:
    assert read(text).time is None
    assert read(text).ambiguity is None


@pytest.mark.parametrize("text", ["the first thing", "for the first time", "on the second floor"])
def test_an_ordinal_that_is_no_day(text: str) -> None:
    assert read(text).date is None
