"""The survey's words, in the guest's language (Spanish, or English)."""

from __future__ import annotations

import re
import unicodedata

_TEXTS: dict[str, dict[str, str]] = {
    "question": {
        "es": "¿Qué tal tu visita a {restaurant}? Valóranos del 1 (mal) al 5 (excelente). "
        "Si quieres, añade un comentario. Escribe «no más encuestas» para no recibir más.",
        "en": "How was your visit to {restaurant}? Rate us from 1 (poor) to 5 (excellent), "
        'and add a comment if you like. Reply "stop" to get no more surveys.',
    },
    "thanks": {
        "es": "¡Gracias por tu valoración! Si quieres añadir un comentario, escríbelo ahora.",
        "en": "Thank you for your rating! If you would like to add a comment, write it now.",
    },
    "thanks_comment": {
        "es": "¡Gracias! Se lo hacemos llegar al equipo.",
        "en": "Thank you! We will pass it on to the team.",
    },
    "sorry": {
        "es": "Sentimos que no haya sido una buena experiencia. Una persona del equipo te "
        "escribirá en breve.",
        "en": "We are sorry it was not a good experience. Someone from the team will write "
        "to you shortly.",
    },
    "opted_out": {
        "es": "Entendido: no te enviaremos más encuestas.",
        "en": "Understood: we will not send you any more surveys.",
    },
}
_LABELS = {
    "es": ("1 Mal", "2 Regular", "3 Bien", "4 Muy bien", "5 Excelente"),
    "en": ("1 Poor", "2 Fair", "3 Good", "4 Very good", "5 Excellent"),
}
_STOP = re.compile(
    r"^(stop|basta|no mas encuestas|no quiero mas encuestas|no more surveys|"
    r"unsubscribe|baja)[.!]*$"
)
_RATING = re.compile(
    r"^\s*([1-5])(?![0-9]|[.,:h]\s*[0-9])"  # not "10 personas", "2:30", "1.5"
    r"(?:\s*(?:/\s*5|de 5|out of 5|estrellas?|stars?))?\s*[.,:;!\-–]*\s*(.*)$",
    re.S,
)


def lang_of(language: str | None) -> str:
    return "en" if language == "en" else "es"


def say(key: str, language: str | None, **facts: str) -> str:
    return _TEXTS[key][lang_of(language)].format(**facts)


def labels(language: str | None) -> tuple[str, ...]:
    return _LABELS[lang_of(language)]


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def is_stop(text: str) -> bool:
    """ "stop", "no más encuestas" and the like: the guest wants no more surveys."""
    return bool(_STOP.match(_plain(text)))


def rating_of(text: str) -> tuple[int, str] | None:
    """A rating typed as the message's first word ("4", "5 de 5, genial"), and the
    rest of the message as its comment; None when the message starts otherwise."""
    found = _RATING.match(text)
    if found is None:
        return None
    return int(found.group(1)), found.group(2).strip()
