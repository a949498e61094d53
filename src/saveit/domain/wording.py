"""How a guest reads a booking's facts, in Spanish and English.

The day ("viernes, 24 de diciembre" / "Friday, December 24", from Babel's CLDR
data, never by hand), the time, the party, and the few phrases that the bot
(:mod:`saveit.conversation.replies`) and the notifier (:mod:`saveit.notify.texts`)
both say. Both look down at this module, so a guest reads one format whoever
writes to them, and neither package imports the other for it: the notifier is
above the bot's waitlist and the bot above the waitlist, and a shared format
kept in either would tie the three in a cycle.
"""

from __future__ import annotations

from datetime import date, datetime, time

from babel.dates import format_date

PHRASES: dict[str, dict[str, str]] = {
    "qr_caption": {
        "es": "Tu código QR para la puerta (reserva {code}).",
        "en": "Your QR code for the door (booking {code}).",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    phrase = PHRASES[key]
    return phrase.get(lang, phrase["es"]).format(**values)


def party(lang: str, size: int) -> str:
    if lang == "en":
        return "1 person" if size == 1 else f"{size} people"
    return "1 persona" if size == 1 else f"{size} personas"


def day(lang: str, value: date) -> str:
    """ "viernes, 24 de diciembre" / "Friday, December 24"."""
    pattern = "EEEE, d 'de' MMMM" if lang == "es" else "EEEE, MMMM d"
    return format_date(value, pattern, locale=_locale(lang))


def short_day(lang: str, value: date) -> str:
    """ "vie 24 dic" / "Fri Dec 24": fits a button next to a time."""
    pattern = "EEE d MMM" if lang == "es" else "EEE MMM d"
    return format_date(value, pattern, locale=_locale(lang)).replace(".", "")


def clock(value: time | datetime) -> str:
    """24-hour clock in both languages: what Spanish restaurants print, unambiguous."""
    return value.strftime("%H:%M")


def weekday_name(lang: str, weekday: int) -> str:
    # 2024-01-01 was a Monday.
    return format_date(date(2024, 1, 1 + weekday), "EEEE", locale=_locale(lang))


def _locale(lang: str) -> str:
    return "es_ES" if lang == "es" else "en_GB"
