"""What a notification says, in the guest's language, shaped for each channel.

Chat channels get a friendly line with the facts a guest checks at a glance
(day, time, party, code); SMS gets the same facts without emoji, because one
emoji turns a 160-character GSM-7 segment into a 70-character UCS-2 one and
triples the bill; email gets a subject that names the restaurant and the date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from saveit.domain import wording as r

KINDS = ("confirmation", "pending", "modification", "cancellation", "reminder", "no_show")

_TEXT: dict[str, dict[str, str]] = {
    "confirmation": {
        "es": "✅ {restaurant}: tu reserva está confirmada.\n{facts}\n"
        "Enseña el código QR en la puerta. Para cambiarla o cancelarla, escríbenos por aquí.",
        "en": "✅ {restaurant}: your booking is confirmed.\n{facts}\n"
        "Show the QR code at the door. To change or cancel it, reply here.",
    },
    "pending": {
        "es": "📝 {restaurant}: hemos recibido tu solicitud.\n{facts}\n"
        "El restaurante la revisará y te confirmará en breve.",
        "en": "📝 {restaurant}: we have your request.\n{facts}\n"
        "The restaurant will review it and confirm shortly.",
    },
    "modification": {
        "es": "✏️ {restaurant}: tu reserva ha cambiado.\n{facts}\n"
        "Usa el código QR nuevo; el anterior ya no vale.",
        "en": "✏️ {restaurant}: your booking has changed.\n{facts}\n"
        "Use the new QR code; the old one no longer works.",
    },
    "cancellation": {
        "es": "❌ {restaurant}: tu reserva está cancelada.\n{facts}\n"
        "Si quieres otra fecha, escríbenos por aquí.",
        "en": "❌ {restaurant}: your booking is cancelled.\n{facts}\n"
        "If you would like another date, reply here.",
    },
    "cancellation_by_restaurant": {
        "es": "❌ {restaurant}: lo sentimos, el restaurante ha tenido que cancelar tu reserva."
        "\n{facts}{reason}\nEscríbenos por aquí y te buscamos otra fecha.",
        "en": "❌ {restaurant}: we are sorry, the restaurant had to cancel your booking."
        "\n{facts}{reason}\nReply here and we will find you another date.",
    },
    "reminder": {
        "es": "⏰ {restaurant}: te recordamos tu reserva.\n{facts}\n¿Nos vemos?",
        "en": "⏰ {restaurant}: a reminder of your booking.\n{facts}\nWill we see you?",
    },
    "no_show": {
        "es": "{restaurant}: te esperábamos {day} a las {time} y no te hemos visto, así que "
        "hemos liberado la mesa (reserva {code}). Si ha sido un error, escríbenos por aquí.",
        "en": "{restaurant}: we expected you on {day} at {time} and did not see you, so we "
        "released the table (booking {code}). If this is a mistake, reply here.",
    },
    "waitlist_offer": {
        "es": "🔔 {restaurant}: ¡se ha liberado una mesa!\n{facts}\n"
        "Te la guardamos hasta las {until}. ¿La quieres?",
        "en": "🔔 {restaurant}: a table has freed up!\n{facts}\n"
        "We are holding it for you until {until}. Would you like it?",
    },
    "facts": {
        "es": "📅 {day} a las {time} · 👥 {party} · código {code}",
        "en": "📅 {day} at {time} · 👥 {party} · code {code}",
    },
    "reason": {"es": "\nMotivo: {reason}", "en": "\nReason: {reason}"},
}

_SMS: dict[str, dict[str, str]] = {
    "waitlist_offer": {
        "es": "{restaurant}: mesa libre {day} {time}, {party}. Te la guardamos hasta las {until}.",
        "en": "{restaurant}: table free {day} {time}, {party}. Held for you until {until}.",
    },
    "confirmation": {
        "es": "{restaurant}: reserva confirmada {day} {time}, {party}. Codigo {code}.",
        "en": "{restaurant}: booking confirmed {day} {time}, {party}. Code {code}.",
    },
    "pending": {
        "es": "{restaurant}: solicitud recibida {day} {time}, {party}. Codigo {code}. "
        "Te confirmaremos en breve.",
        "en": "{restaurant}: request received {day} {time}, {party}. Code {code}. "
        "We will confirm shortly.",
    },
    "modification": {
        "es": "{restaurant}: reserva {code} cambiada a {day} {time}, {party}.",
        "en": "{restaurant}: booking {code} changed to {day} {time}, {party}.",
    },
    "cancellation": {
        "es": "{restaurant}: reserva {code} del {day} {time} cancelada.",
        "en": "{restaurant}: booking {code} on {day} {time} cancelled.",
    },
    "cancellation_by_restaurant": {
        "es": "{restaurant}: lo sentimos, hemos cancelado tu reserva {code} del {day} {time}. "
        "Responde y te buscamos otra fecha.",
        "en": "{restaurant}: sorry, we had to cancel booking {code} on {day} {time}. "
        "Reply and we will find another date.",
    },
    "reminder": {
        "es": "{restaurant}: recordatorio de tu reserva {day} {time}, {party} ({code}).",
        "en": "{restaurant}: reminder of your booking {day} {time}, {party} ({code}).",
    },
    "no_show": {
        "es": "{restaurant}: no te vimos {day} {time}; liberamos la mesa ({code}). "
        "Si es un error, responde.",
        "en": "{restaurant}: we missed you {day} {time}; the table was released ({code}). "
        "Reply if this is a mistake.",
    },
}

_SUBJECT: dict[str, dict[str, str]] = {
    "waitlist_offer": {
        "es": "Mesa libre en {restaurant}: {day}, {time}",
        "en": "A table is free at {restaurant}: {day}, {time}",
    },
    "confirmation": {
        "es": "Reserva confirmada en {restaurant}: {day}, {time}",
        "en": "Booking confirmed at {restaurant}: {day}, {time}",
    },
    "pending": {
        "es": "Solicitud de reserva en {restaurant}: {day}, {time}",
        "en": "Booking request at {restaurant}: {day}, {time}",
    },
    "modification": {
        "es": "Reserva cambiada en {restaurant}: {day}, {time}",
        "en": "Booking changed at {restaurant}: {day}, {time}",
    },
    "cancellation": {
        "es": "Reserva cancelada en {restaurant}: {day}, {time}",
        "en": "Booking cancelled at {restaurant}: {day}, {time}",
    },
    "reminder": {
        "es": "Recordatorio: {restaurant}, {day}, {time}",
        "en": "Reminder: {restaurant}, {day}, {time}",
    },
    "no_show": {
        "es": "Te echamos de menos en {restaurant}",
        "en": "We missed you at {restaurant}",
    },
}

_BUTTONS: dict[str, dict[str, str]] = {
    "coming": {"es": "Sí, allí estaré", "en": "Yes, I'll be there"},
    "change": {"es": "Cambiarla", "en": "Change it"},
    "cancel": {"es": "Cancelarla", "en": "Cancel it"},
    "take": {"es": "Sí, la quiero", "en": "Yes, book it"},
    "pass": {"es": "No, gracias", "en": "No, thanks"},
    "calendar": {"es": "Reserva en {restaurant}", "en": "Booking at {restaurant}"},
    "calendar_details": {
        "es": "{party}. Código {code}. Enseña el QR en la puerta.",
        "en": "{party}. Code {code}. Show the QR code at the door.",
    },
}


@dataclass(frozen=True, slots=True)
class Facts:
    """The booking as a guest reads it: local day and time in the restaurant's zone."""

    restaurant: str
    code: str
    start: datetime  # local
    party_size: int
    reason: str = ""


def _pick(table: dict[str, dict[str, str]], key: str, lang: str) -> str:
    phrase = table[key]
    return phrase.get(lang, phrase["es"])


def _values(facts: Facts, lang: str, *, short: bool) -> dict[str, str]:
    day = facts.start.date()
    return {
        "restaurant": facts.restaurant,
        "code": facts.code,
        "day": r.short_day(lang, day) if short else r.day(lang, day),
        "time": r.clock(facts.start),
        "party": r.party(lang, facts.party_size),
        "until": facts.reason,  # a waitlist offer's deadline (local time)
    }


def chat(kind: str, facts: Facts, lang: str) -> str:
    values = _values(facts, lang, short=False)
    values["facts"] = _pick(_TEXT, "facts", lang).format(**values)
    values["reason"] = (
        _pick(_TEXT, "reason", lang).format(reason=facts.reason) if facts.reason else ""
    )
    return _pick(_TEXT, kind, lang).format(**values)


def sms(kind: str, facts: Facts, lang: str) -> str:
    """One short line (the QR link, when there is one, is added by ``saveit.notify.qr``)."""
    return _pick(_SMS, kind, lang).format(**_values(facts, lang, short=True))


def subject(kind: str, facts: Facts, lang: str) -> str:
    key = "cancellation" if kind == "cancellation_by_restaurant" else kind
    return _pick(_SUBJECT, key, lang).format(**_values(facts, lang, short=True))


def qr_caption(facts: Facts, lang: str) -> str:
    return r.say(lang, "qr_caption", code=facts.code)


def button(key: str, lang: str) -> str:
    return _pick(_BUTTONS, key, lang)


def calendar(facts: Facts, lang: str) -> tuple[str, str]:
    """The calendar entry's title and description."""
    values = _values(facts, lang, short=False)
    return (
        _pick(_BUTTONS, "calendar", lang).format(**values),
        _pick(_BUTTONS, "calendar_details", lang).format(**values),
    )
