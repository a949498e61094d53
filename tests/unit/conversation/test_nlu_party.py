"""Party sizes as guests write them, and no size taken from times, days or articles."""

from __future__ import annotations

import pytest

from saveit.conversation.party import find_party_size
from saveit.conversation.text import normalize


def size(text: str) -> int | None:
    return find_party_size(normalize(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Spanish
        ("somos 4", 4),
        ("seremos 5", 5),
        ("Somos cuatro", 4),
        ("somos seis", 6),
        ("somos doce", 12),
        ("mesa para dos", 2),
        ("una mesa para 2", 2),
        ("una mesa x favor para tres", 3),
        ("para 4 personas", 4),
        ("para cuatro personas", 4),
        ("4 personas", 4),
        ("veinte personas", 20),
        ("4 pers", 4),
        ("4 pax", 4),
        ("4pax", 4),
        ("seremos unos 8", 8),
        ("para una persona", 1),
        ("una docena de personas", 12),
        ("somos media docena", 6),
        ("para un par de personas", 2),
        ("reserva para 2 mañana a las 9", 2),
        ("para 2 a las 9", 2),
        ("mesa para 6 el viernes", 6),
        ("para 15", 15),
        ("grupo de 10", 10),
        ("mesa de 8", 8),
        # English
        ("party of 5", 5),
        ("a party of five", 5),
        ("table for 2", 2),
        ("table for 2 at 8", 2),
        ("for 6 people", 6),
        ("4 of us", 4),
        ("the four of us", 4),
        ("for two of us", 2),
        ("we are 3", 3),
        ("we're 3", 3),
        ("we'll be 7", 7),
        ("there will be 4 of us", 4),
        ("twelve guests", 12),
        ("a dozen people", 12),
        ("book for 4 tomorrow", 4),
        ("booking for 3 on the 15th", 3),
        ("table for 2 ppl", 2),
        # adults and children add up
        ("4 adultos y 2 niños", 6),
        ("somos 4 adultos y 2 niños", 6),
        ("2 niños y 4 adultos", 6),
        ("2 adults and 1 kid", 3),
        ("2 adults & 2 children", 4),
        ("3 adultos, 1 niño y 1 bebé", 5),
        ("4 personas y 2 niños", 6),
        # couples
        ("para mi mujer y para mí", 2),
        ("para mí y mi mujer", 2),
        ("mi novia y yo", 2),
        ("yo y mi marido", 2),
        ("me and my wife", 2),
        ("my husband and I", 2),
        ("just me and my wife", 2),
        ("cena con mi novia", 2),
        ("somos una pareja", 2),
        ("we're a couple", 2),
        ("the two of us", 2),
        # alone
        ("just me", 1),
        ("solo yo", 1),
        ("sólo yo", 1),
        ("para mí solo", 1),
        ("para mi sola", 1),
        ("only me", 1),
        ("table for one", 1),
        ("a table for one please", 1),
        ("mesa para uno", 1),
        ("for one tonight", 1),
        # a number beats the people named around it
        ("somos 4, mi mujer y yo y dos amigos", 4),
    ],
)
def test_party_sizes(text: str, expected: int | None) -> None:
    assert size(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hola",
        "una mesa",
        "quiero una mesa para mañana",
        "hola, una mesa x favor",
        "un café",
        "para las 9",
        "para las nueve",
        "a las 2",
        "a las dos",
        "at 8",
        "for 8pm",
        "for 8:30",
        "para 21:00",
        "para 2 de la tarde",
        "reserva para 2 de la tarde",
        "el 15",
        "the 15th",
        "21:00",
        "24/12",
        "para el 24",
        "para 24 de diciembre",
        "for dec 31",
        "612 345 678",
        "mi número es +34 612345678",
        "ABC23456",
        "for one night",
        "just one question",
        "for a couple of days",
        "cancela las dos reservas",
        "for 2026",
        "la primera vez",
        "at 9 in the evening",
    ],
)
def test_nothing_invented(text: str) -> None:
    assert size(text) is None
