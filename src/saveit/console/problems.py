"""A service's refusal in the reader's language.

The services refuse with a stable code and an English detail written for the
API's ``application/problem+json`` (``"party of 14 exceeds the maximum of
8"``). A Spanish page showed that English sentence as it was. Each code has a
sentence here in both languages; English readers keep the service's own detail,
which is more specific than a sentence per code. Where one code covers many
different causes (bad input, a conflict, a refused check-in), the Spanish
sentence says what went wrong in general and keeps the service's detail after
it, in parentheses: a host can still tell which field or rule it was, and
nothing is hidden for want of a translation.
"""

from __future__ import annotations

from saveit.domain.errors import DomainError

# Codes whose causes are too varied for one sentence: the detail follows it.
_WITH_DETAIL = frozenset({"VALIDATION_ERROR", "CONFLICT", "CHECK_IN_REFUSED", "FORBIDDEN"})

_ES = {
    "VALIDATION_ERROR": "Hay un dato que no es válido.",
    "NOT_FOUND": "No se ha encontrado.",
    "UNAUTHORIZED": "Hace falta iniciar sesión de nuevo.",
    "FORBIDDEN": "Tu función no permite hacer esto.",
    "CONFLICT": "Choca con algo que ya existe o que ha cambiado.",
    "INVALID_TRANSITION": "La reserva ya no está en un estado que lo permita.",
    "SLOT_TAKEN": "Esa mesa u hora ya está ocupada.",
    "OUTSIDE_OPENING_HOURS": "Esa hora está fuera del horario de apertura.",
    "PARTY_TOO_LARGE": "El grupo es más grande de lo que se admite.",
    "NO_SUITABLE_TABLE": "No hay ninguna mesa libre adecuada para ese grupo a esa hora.",
    "TOO_SOON": "Es demasiado pronto: no se cumple la antelación mínima.",
    "TOO_FAR_AHEAD": "Es demasiado lejos en el futuro para reservar.",
    "TOO_LATE_TO_CANCEL": "Ya es tarde para cancelar esta reserva.",
    "TOO_LATE_TO_CHANGE": "Ya es tarde para cambiar esta reserva.",
    "CHECK_IN_REFUSED": "No se puede registrar la llegada.",
    "QR_INVALID_SIGNATURE": "El código QR no es válido.",
    "QR_UNKNOWN_KEY": "El código QR está firmado con una clave desconocida.",
    "QR_WRONG_RESTAURANT": "El código QR es de otro restaurante.",
    "QR_TOO_EARLY": "Es demasiado pronto para este código QR.",
    "QR_EXPIRED": "El código QR ha caducado.",
    "QR_SUPERSEDED": "Este código QR se ha sustituido por uno más reciente.",
    "RESERVATION_CANCELLED": "La reserva está cancelada.",
    "RESERVATION_NO_SHOW": "La reserva está marcada como no presentada.",
    "ALREADY_CHECKED_IN": "La llegada ya estaba registrada.",
    "OFFER_GONE": "La oferta ya no está disponible.",
}
_FALLBACK_ES = "No se ha podido hacer."


def said(lang: str, exc: DomainError) -> str:
    """What the page shows for ``exc``, in ``lang``."""
    if lang != "es":
        return exc.detail
    text = _ES.get(exc.code)
    if text is None or exc.code in _WITH_DETAIL:
        text = text or _FALLBACK_ES
        return f"{text} ({exc.detail})" if exc.detail else text
    return text
