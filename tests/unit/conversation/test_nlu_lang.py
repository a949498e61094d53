"""Language detection: Spanish or English from marker words, the guest's remembered
language when the text does not say."""

from __future__ import annotations

import pytest

from saveit.conversation.lang import detect
from saveit.conversation.text import normalize


@pytest.mark.parametrize(
    "text",
    [
        "Hola, quería reservar una mesa para 4",
        "tenéis sitio mñn?",
        "kiero reservar pa 2",  # typo and shorthand
        "qiero cancelar la reserva",
        "a q hora abris",
        "somos 3 y llegamos a las 9",
        "jajaja vale",
        "buenas noches",
    ],
)
def test_spanish(text: str) -> None:
    assert detect(normalize(text)) == "es"


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I'd like to book a table for 4",
        "do u have a table 2moro?",
        "tomorow at 8 pls",  # typo
        "cancel my booking",
        "what time do you close",
        "we're 3 people",
        "lol",
        "good evening",
    ],
)
def test_english(text: str) -> None:
    assert detect(normalize(text)) == "en"


@pytest.mark.parametrize("text", ["ok", "21:00", "4", "👍", "", "OK 21:30"])
def test_no_signal_keeps_the_hint(text: str) -> None:
    assert detect(normalize(text), "en") == "en"
    assert detect(normalize(text), "es") == "es"
    assert detect(normalize(text)) == "es"


def test_a_clear_message_overrides_the_hint() -> None:
    assert detect(normalize("quiero reservar para mañana"), "en") == "es"
    assert detect(normalize("I want to book for tomorrow"), "es") == "en"
