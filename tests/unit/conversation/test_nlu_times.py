"""Times of day as guests write them, morning or evening settled, and nothing invented."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

import pytest

from saveit.conversation.text import normalize
from saveit.conversation.times import find_time
from saveit.domain.model import ServiceHours

LUNCH = ServiceHours(time(13), time(16), "lunch")
DINNER = ServiceHours(time(20), time(23, 30), "dinner")
BRUNCH = ServiceHours(time(9), time(12, 30), "brunch")
LATE = ServiceHours(time(20), time(2), "late")  # crosses midnight


def at(text: str, services: Sequence[ServiceHours] = ()) -> time | None:
    return find_time(normalize(text), services)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 24-hour clock
        ("21:00", time(21)),
        ("a las 21:00", time(21)),
        ("21.30", time(21, 30)),
        ("21h", time(21)),
        ("21 h", time(21)),
        ("21hs", time(21)),
        ("a las 21 horas", time(21)),
        ("13:45", time(13, 45)),
        ("00:30", time(0, 30)),
        ("09:30", time(9, 30)),  # a leading zero is read as written
        # Spanish
        ("a las 9", time(21)),
        ("a las 9 de la noche", time(21)),
        ("a las 11 de la noche", time(23)),
        ("a las 12 de la noche", time(0)),
        ("a la 1 de la madrugada", time(1)),
        ("a las 2 de la tarde", time(14)),
        ("a las 10 de la mañana", time(10)),
        ("a las 10 de la mñn", time(10)),
        ("a las 2 del mediodía", time(14)),
        ("9 y media", time(21, 30)),
        ("9 y cuarto", time(21, 15)),
        ("9 menos cuarto", time(20, 45)),
        ("a las 9 y 10", time(21, 10)),
        ("a las 9 menos 10", time(20, 50)),
        ("a las nueve", time(21)),
        ("a las ocho y media", time(20, 30)),
        ("las diez", time(22)),
        ("a la una", time(13)),
        ("a la una y media", time(13, 30)),
        ("a la una menos cuarto", time(12, 45)),
        ("sobre las 9", time(21)),
        ("hacia las 9", time(21)),
        ("para las 2", time(14)),
        ("a las 12", time(12)),
        ("a las 12 y media", time(12, 30)),
        ("mediodía", time(12)),
        ("a mediodía", time(12)),
        ("medianoche", time(0)),
        ("a las 9 esta noche", time(21)),
        # English
        ("8pm", time(20)),
        ("8 pm", time(20)),
        ("8.30pm", time(20, 30)),
        ("8:30 p.m.", time(20, 30)),
        ("9:30 am", time(9, 30)),
        ("9:30 a.m.", time(9, 30)),
        ("11am", time(11)),
        ("12am", time(0)),
        ("12pm", time(12)),
        ("at 8", time(20)),
        ("at 8:30", time(20, 30)),
        ("at nine", time(21)),
        ("around 9", time(21)),
        ("about 7", time(19)),
        ("9ish", time(21)),
        ("nine o'clock", time(21)),
        ("half past eight", time(20, 30)),
        ("quarter past 8", time(20, 15)),
        ("quarter to nine", time(20, 45)),
        ("ten to eight", time(19, 50)),
        ("eight thirty", time(20, 30)),
        ("seven forty five", time(19, 45)),
        ("at 8 tonight", time(20)),
        ("at 8 in the morning", time(8)),
        ("at 7 in the evening", time(19)),
        ("noon", time(12)),
        ("midday", time(12)),
        ("midnight", time(0)),
        # in a sentence
        ("mesa para 4 a las 9 y media", time(21, 30)),
        ("table for 2 at 8", time(20)),
        ("el 24/12 a las 21:00", time(21)),
        ("dec 31 at 10pm", time(22)),
        ("somos 6, a las 14h", time(14)),
        ("reserva para 2 mañana a las 9", time(21)),
        # a part of day elsewhere in the message
        ("para cenar a las 9", time(21)),
        ("dinner at 7", time(19)),
        ("mañana por la mañana a las 10", time(10)),
        ("breakfast at 9", time(9)),
        ("para comer a las 2", time(14)),
        ("good morning, table at 9", time(21)),
        # corrections
        ("a las 9 no, a las 10", time(22)),
        ("a las 9, mejor a las 10", time(22)),
        ("cambiar de las 9 a las 10", time(22)),
        ("entre las 8 y las 9", time(20)),
    ],
)
def test_times(text: str, expected: time) -> None:
    assert at(text) == expected


@pytest.mark.parametrize(
    ("text", "services", "expected"),
    [
        # an hour from 1 to 11 goes where the restaurant is open
        ("a las 9", [BRUNCH], time(9)),
        ("a las 9", [BRUNCH, DINNER], None),  # both fit: asked, not guessed
        ("a las 9", [LUNCH], time(21)),  # neither fits: the evening
        ("a las 2", [LUNCH, DINNER], time(14)),
        ("a las 10 y media", [BRUNCH], time(10, 30)),
        ("at 11", [BRUNCH, LUNCH], time(11)),
        ("at 11", [BRUNCH, DINNER], None),
        ("at 11", [LUNCH, DINNER], time(23)),
        ("a la una", [LATE], time(1)),
        ("a las 9", [LATE], time(21)),
        ("a la una menos cuarto", [LATE], time(0, 45)),
        # what the guest says beats the services
        ("a las 9 de la noche", [BRUNCH], time(21)),
        ("9pm", [BRUNCH], time(21)),
        ("a las 10 de la mañana", [DINNER], time(10)),
        ("9am", [DINNER], time(9)),
        # 12, 24-hour times, noon and midnight stay as said
        ("a las 12", [DINNER], time(12)),
        ("21:00", [BRUNCH], time(21)),
        ("a mediodía", [LUNCH], time(12)),
        ("midnight", [DINNER], time(0)),
    ],
)
def test_services_settle_morning_or_evening(
    text: str, services: list[ServiceHours], expected: time | None
) -> None:
    assert at(text, services) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hola",
        "quiero reservar",
        "mañana",
        "para 4",
        "somos 6",
        "4 personas",
        "party of 5",
        "table for 2",
        "mesa para dos",
        "para dos personas",
        "for 6 people",
        "el 15",
        "the 15th",
        "24/12",
        "24.12",
        "24-12",
        "dec 31",
        "el 24 de diciembre",
        "ABC23456",
        "mi código es abc23456",
        "612 345 678",
        "+34 612 345 678",
        "cancela las dos reservas",
        "10 to 12 people",
        "5 to 6 people",
        "durante 2 horas",
        "about 10 people",
        "el 20.10",
        "cuesta 12.50 euros",
        "somos 4 y medio",
        "I am 9",
    ],
)
def test_nothing_invented(text: str) -> None:
    assert at(text) is None
