"""Intent rules: one intent per message, settled in the documented order."""

from __future__ import annotations

import pytest

from saveit.conversation.intents import classify
from saveit.conversation.lang import detect
from saveit.conversation.nlu import INTENTS
from saveit.conversation.text import normalize


def intent(text: str) -> str:
    norm = normalize(text)
    return classify(norm, detect(norm))


CASES = {
    "book": [
        "quiero reservar",
        "reserva para 4 mañana",
        "mesa para dos el viernes",
        "table for 4 tomorrow at 8",
        "hola, quiero reservar",
        "Can I book a table for 2?",
        "resevar mesa 2 personas",  # typo
        "apúntanos para el sábado",
    ],
    "check_availability": [
        "tenéis mesa mañana a las 9?",
        "do you have a table tonight?",
        "is there availability on Saturday",
        "hay sitio?",
        "any tables left for tonight?",
        "are you fully booked tonight?",
        "hay sitio para reservar el sábado?",
    ],
    "cancel": [
        "quiero cancelar mi reserva",
        "anula la reserva",
        "cancel my booking",
        "I can't make it",
        "no vamos a poder ir",
        "No, cancélala",
        "cancell my resrvation pls",  # typos
    ],
    "modify": [
        "cambiar la reserva a las 10",
        "can we move it to 9pm",
        "add one more person",
        "somos uno más",
        "no quiero cancelar, solo cambiar la hora",
        "can't make it at 9, can we do 10 instead?",
        "Could we push it back to 9:30?",
    ],
    "my_reservations": [
        "qué reservas tengo",
        "my bookings",
        "do I have a reservation",
        "a qué hora es mi reserva?",
        "is my booking confirmed?",
    ],
    "opening_hours": [
        "a qué hora abrís",
        "horario",
        "are you open on Monday?",
        "abrís el domingo?",
        "what time do you close",
        "What time does the kitchen close tonight?",
    ],
    "greeting": ["hola", "buenas", "hi there", "good evening", "holaaa 😊", "Buenos días!!"],
    "human_handoff": [
        "quiero hablar con una persona",
        "un humano por favor",
        "can I speak to someone",
        "agent",
        "staff please",
        "me pasas con el encargado?",
    ],
    "unknown": [
        "¿tenéis opciones veganas?",
        "what's the wifi password",
        "jajaja",
        "mañana a las 9",
        "4 personas",
        "sí",
        "no, mejor a las 10",
        "gracias!",
        "la mesa estaba muy cerca de la puerta",
        "Do you take bookings for large groups?",
        "what's your cancellation policy?",
        "",
    ],
}


@pytest.mark.parametrize(
    ("text", "expected"), [(t, i) for i, texts in CASES.items() for t in texts]
)
def test_intent(text: str, expected: str) -> None:
    assert intent(text) == expected


def test_every_intent_is_covered_and_known() -> None:
    assert set(CASES) == set(INTENTS)


def test_a_greeting_with_a_request_is_the_request() -> None:
    assert intent("hola buenas, quería cancelar") == "cancel"
    assert intent("hi! do you have a table for 2?") == "check_availability"


def test_a_past_booking_is_no_request_to_book() -> None:
    assert intent("reservé ayer para mañana, ¿me lo confirmáis?") == "my_reservations"
    assert intent("we booked last week and loved it") == "unknown"


def test_deterministic() -> None:
    assert {intent("tenéis mesa mañana?") for _ in range(5)} == {"check_availability"}
