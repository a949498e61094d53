"""Days as guests write them, in Spanish and English, and nothing where none is named."""

from __future__ import annotations

from datetime import date

import pytest

from saveit.conversation.dates import dot_reads_as_date, find_date
from saveit.conversation.text import normalize

SATURDAY = date(2026, 11, 28)
SUNDAY = date(2026, 11, 29)
WEDNESDAY = date(2026, 12, 2)
FRIDAY = date(2026, 12, 4)


def day(text: str, today: date = SATURDAY) -> date | None:
    return find_date(normalize(text), today)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # today
        ("hoy", date(2026, 11, 28)),
        ("para hoy a las 9", date(2026, 11, 28)),
        ("Today please", date(2026, 11, 28)),
        ("tonight at 8", date(2026, 11, 28)),
        ("esta noche", date(2026, 11, 28)),
        ("esta tarde", date(2026, 11, 28)),
        ("hoy es mi cumple, ¿tenéis mesa?", date(2026, 11, 28)),
        # tomorrow, and mañana the morning
        ("mañana", date(2026, 11, 29)),
        ("mñn a las 2", date(2026, 11, 29)),
        ("para mañana por la mañana", date(2026, 11, 29)),
        ("mañana por la noche", date(2026, 11, 29)),
        ("tomorrow", date(2026, 11, 29)),
        ("2moro at 8", date(2026, 11, 29)),
        ("tmrw night", date(2026, 11, 29)),
        ("hasta mañana", date(2026, 11, 29)),
        # the day after
        ("pasado mañana", date(2026, 11, 30)),
        ("pasado mñn", date(2026, 11, 30)),
        ("the day after tomorrow", date(2026, 11, 30)),
        ("day after tmrw", date(2026, 11, 30)),
        # weekdays from a Saturday
        ("el sábado", date(2026, 11, 28)),
        ("sabado", date(2026, 11, 28)),
        ("el sáb", date(2026, 11, 28)),
        ("este sábado", date(2026, 11, 28)),
        ("this saturday", date(2026, 11, 28)),
        ("el próximo sábado", date(2026, 12, 5)),
        ("next saturday", date(2026, 12, 5)),
        ("el sábado que viene", date(2026, 12, 5)),
        ("el domingo", date(2026, 11, 29)),
        ("next Monday", date(2026, 11, 30)),
        ("el lunes", date(2026, 11, 30)),
        ("el martes", date(2026, 12, 1)),
        ("el miércoles", date(2026, 12, 2)),
        ("el miercoles", date(2026, 12, 2)),
        ("el jueves", date(2026, 12, 3)),
        ("el viernes", date(2026, 12, 4)),
        ("friday", date(2026, 12, 4)),
        ("fri at 9", date(2026, 12, 4)),
        ("on wed", date(2026, 12, 2)),
        # weekday typos
        ("el viernees", date(2026, 12, 4)),
        ("satruday", date(2026, 11, 28)),
        ("wednsday", date(2026, 12, 2)),
        ("thrusday night", date(2026, 12, 3)),
        ("el miercles", date(2026, 12, 2)),
        # the weekend
        ("el finde", date(2026, 11, 28)),
        ("este fin de semana", date(2026, 11, 28)),
        ("this weekend", date(2026, 11, 28)),
        ("the weekend", date(2026, 11, 28)),
        ("next weekend", date(2026, 12, 5)),
        ("el finde que viene", date(2026, 12, 5)),
        # day and month
        ("el 24 de diciembre", date(2026, 12, 24)),
        ("24 dic", date(2026, 12, 24)),
        ("24 de dic.", date(2026, 12, 24)),
        ("dec 31", date(2026, 12, 31)),
        ("December 31st", date(2026, 12, 31)),
        ("31st of December", date(2026, 12, 31)),
        ("the 31st of december", date(2026, 12, 31)),
        ("december the 31st", date(2026, 12, 31)),
        ("el primero de enero", date(2027, 1, 1)),
        ("first of may", date(2027, 5, 1)),
        ("5 de enero", date(2027, 1, 5)),
        ("el 28 de noviembre", date(2026, 11, 28)),
        ("el 27 de noviembre", date(2027, 11, 27)),
        ("5 de enero de 2027", date(2027, 1, 5)),
        ("24 diciembe", date(2026, 12, 24)),
        ("el 3 de febreo", date(2027, 2, 3)),
        ("29 de febrero", date(2028, 2, 29)),
        # numeric, day first
        ("12/12", date(2026, 12, 12)),
        ("24/12", date(2026, 12, 24)),
        ("24/12/2026", date(2026, 12, 24)),
        ("24/12/26", date(2026, 12, 24)),
        ("24-12", date(2026, 12, 24)),
        ("24.12", date(2026, 12, 24)),
        ("24.12.2026", date(2026, 12, 24)),
        ("el 10.10", date(2027, 10, 10)),
        ("3/1", date(2027, 1, 3)),
        ("12/24", date(2026, 12, 24)),  # month first only when day first is impossible
        ("1/12 a las 21:00", date(2026, 12, 1)),
        # a day of the month alone
        ("the 15th", date(2026, 12, 15)),
        ("el 15", date(2026, 12, 15)),
        ("el día 15", date(2026, 12, 15)),
        ("el dia 30", date(2026, 11, 30)),
        ("el 28", date(2026, 11, 28)),
        ("el 27", date(2026, 12, 27)),
        ("el 31", date(2026, 12, 31)),
        ("on the 2nd", date(2026, 12, 2)),
        ("el 15 del mes que viene", date(2026, 12, 15)),
        # weekday and day together
        ("el viernes 4", date(2026, 12, 4)),
        ("el viernes día 4", date(2026, 12, 4)),
        ("friday the 4th", date(2026, 12, 4)),
        ("el viernes 11 de diciembre", date(2026, 12, 11)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert day(text) == expected


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        # a bare weekday is today when today is that day
        ("el viernes", FRIDAY, date(2026, 12, 4)),
        ("el próximo viernes", FRIDAY, date(2026, 12, 11)),
        ("next friday", FRIDAY, date(2026, 12, 11)),
        ("el viernes que viene", FRIDAY, date(2026, 12, 11)),
        ("this friday", FRIDAY, date(2026, 12, 4)),
        ("el viernes", WEDNESDAY, date(2026, 12, 4)),
        ("next friday", WEDNESDAY, date(2026, 12, 4)),
        ("el miércoles", WEDNESDAY, date(2026, 12, 2)),
        ("el martes", WEDNESDAY, date(2026, 12, 8)),
        ("el lunes", SUNDAY, date(2026, 11, 30)),
        ("el domingo", SUNDAY, date(2026, 11, 29)),
        # a weekday "next week" belongs to the next Monday-to-Sunday week
        ("el viernes de la semana que viene", WEDNESDAY, date(2026, 12, 11)),
        ("friday next week", WEDNESDAY, date(2026, 12, 11)),
        ("next week on monday", WEDNESDAY, date(2026, 12, 7)),
        # the weekend
        ("el finde", WEDNESDAY, date(2026, 12, 5)),
        ("this weekend", SUNDAY, date(2026, 11, 29)),
        ("el finde", FRIDAY, date(2026, 12, 5)),
        ("next weekend", SUNDAY, date(2026, 12, 5)),
        ("the weekend", SUNDAY, date(2026, 11, 29)),
        # relative days from other days
        ("mañana", date(2026, 12, 31), date(2027, 1, 1)),
        ("pasado mañana", date(2026, 12, 31), date(2027, 1, 2)),
        ("el 5", date(2026, 12, 31), date(2027, 1, 5)),
        ("el 30", date(2027, 1, 31), date(2027, 3, 30)),
        ("24 dic", date(2026, 12, 25), date(2027, 12, 24)),
    ],
)
def test_relative_to_other_days(text: str, today: date, expected: date) -> None:
    assert day(text, today) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hoy no, mañana", date(2026, 11, 29)),
        ("mañana no, el lunes", date(2026, 11, 30)),
        ("el viernes, mejor el jueves", date(2026, 12, 3)),
        ("cambiar del viernes al jueves", date(2026, 12, 3)),
        ("move it from friday to thursday", date(2026, 12, 3)),
        ("no puedo el viernes, ¿el jueves?", date(2026, 12, 3)),
        ("en vez del viernes el jueves", date(2026, 12, 3)),
        ("hoy es sábado, quiero para el martes", date(2026, 12, 1)),
        ("mañana domingo", date(2026, 11, 29)),
        ("el viernes a las 9, el 4 de diciembre", date(2026, 12, 4)),
    ],
)
def test_several_days_named(text: str, expected: date) -> None:
    assert day(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hola",
        "quiero reservar una mesa",
        "a las 10 de la mañana",
        "por la mañana",
        "las mañanas",
        "a las 9",
        "9:30",
        "21.30",
        "a las 21.30",
        "9.15",
        "20.10",
        "para 4",
        "4 pax",
        "somos 12",
        "the 2 of us",
        "table for 2",
        "4 adultos y 2 niños",
        "8-10 personas",
        "9-10pm",
        "mi teléfono es 612 345 678",
        "+34 612345678",
        "código ABC23456",
        "en diciembre",
        "in december",
        "el menú entero",
        "si vienes",
        "vistas al mar",
        "may I book a table?",
        "2 days ago",
        "el primero",
        "the 1st one",
        "la primera vez",
        "32/12",
        "31/11",
        "2026",
    ],
)
def test_nothing_invented(text: str) -> None:
    assert day(text) is None


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("24", "12", True),
        ("1", "11", True),
        ("20", "12", True),
        ("21", "30", False),
        ("9", "15", False),
        ("20", "10", False),
        ("12", "00", False),
        ("32", "1", False),
    ],
)
def test_dotted_pairs(first: str, second: str, expected: bool) -> None:
    assert dot_reads_as_date(first, second) is expected
