"""Months, weekdays and days of the month as guests type them, in two languages.

The vocabulary the day readers (:mod:`.dates`, :mod:`.relative_days`) match
against, and the two rewrites that run before them: typos of a month or weekday
name corrected to the name ("firday", "juebes"), and days said in words turned
into digits ("el siete de junio", "the twelfth of december").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

MONTHS: dict[str, int] = {
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
MONTH_ABBREVIATIONS: dict[str, int] = {
    "ene": 1,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "abr": 4,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "ago": 8,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "set": 9,
    "oct": 10,
    "nov": 11,
    "dic": 12,
    "dec": 12,
}
WEEKDAYS: dict[str, int] = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# Shorthand the normalizer leaves alone ("sáb" loses its accent after expansion).
WEEKDAY_ABBREVIATIONS: dict[str, int] = {
    "lun": 0,
    "mie": 2,
    "jue": 3,
    "sab": 5,
    "tue": 1,
    "thur": 3,
}
_PLURALS = {f"{name}s": n for name, n in WEEKDAYS.items() if not name.endswith("s")}

# Real words one or two edits from a month or weekday name, never corrected.
_NOT_TYPOS = frozenset(
    {"vienes", "viene", "mares", "entero", "entera", "marcha", "mayor", "junto", "julia"}
    | {"mananas", "manzana", "manzanas", "banana", "mariana", "hermana", "semana", "tomorrows"}
)
_DAY_WORDS = ("manana", "tomorrow")
_FUZZY_CHOICES = tuple(MONTHS) + tuple(WEEKDAYS) + _DAY_WORDS
_FUZZY_CUTOFF = 85.0

MONTH_NAMES = {**MONTHS, **MONTH_ABBREVIATIONS}
WEEKDAY_NAMES = {**WEEKDAYS, **WEEKDAY_ABBREVIATIONS, **_PLURALS}


def alternation(names: Sequence[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


ANY_MONTH = alternation(list(MONTH_NAMES))
ANY_WEEKDAY = alternation(list(WEEKDAY_NAMES))
ORDINAL_WORDS: dict[str, int] = {
    "primero": 1,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
}
_ES_DAY_WORDS: dict[str, int] = {
    "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14,
    "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19,
    "veinte": 20, "veintiuno": 21, "veintiun": 21, "veintidos": 22, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27,
    "veintiocho": 28, "veintinueve": 29, "treinta": 30, "treinta y uno": 31,
}  # fmt: skip
_EN_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9,
}  # fmt: skip
_EN_DAY_WORDS: dict[str, int] = {
    **_EN_UNITS,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "thirty first": 31,
    **{f"twenty {w}": 20 + n for w, n in _EN_UNITS.items()},
}  # fmt: skip
_MONTH_AFTER = re.compile(
    r" (?:de |of |del |of the )?(?:" + ANY_MONTH + r"|mes que viene|proximo mes|next month)\b"
)
_SPANISH_DAY_WORD = re.compile(r"\b(" + alternation(list(_ES_DAY_WORDS)) + r")\b")
_ENGLISH_DAY_WORD = re.compile(
    r"\b(" + alternation([w.replace(" ", "[ -]") for w in _EN_DAY_WORDS]) + r")\b"
)
_DAY_EXPECTED_BEFORE = re.compile(r"\b(?:the|on|for|el|dia|day|" + ANY_MONTH + r")\s$")
_NOT_A_DAY_WORD_AFTER = re.compile(
    r" (?:"
    + alternation(list(WEEKDAY_NAMES))
    + r"|one|reservation|booking|option|floor|time|of us|of them|person|people|week|weekend|"
    r"semana|personas?|adultos?|ninos?|pax|comensales|mesas?|thing|things|course|dish|round|"
    r"plato|ronda|vez)\b"
)


def day_words(text: str) -> str:
    """Days said in words, as digits: "el siete de junio" is "el 7 de junio",
    "the twelfth of december" "the 12th of december"."""

    def spanish(m: re.Match[str]) -> str:
        value = _ES_DAY_WORDS[m[1]]
        before = text[max(0, m.start() - 12) : m.start()]
        if _MONTH_AFTER.match(text, m.end()) or re.search(r"\bdia\s$", before):
            return str(value)
        after = _NOT_A_DAY_WORD_AFTER.match(text, m.end())
        if value > 12 and re.search(r"\bel\s$", before) and not after:
            return str(value)
        return m[0]

    def english(m: re.Match[str]) -> str:
        value = _EN_DAY_WORDS[m[1].replace("-", " ")]
        if _NOT_A_DAY_WORD_AFTER.match(text, m.end()):
            return m[0]
        before = text[max(0, m.start() - 14) : m.start()]
        if _MONTH_AFTER.match(text, m.end()) or _DAY_EXPECTED_BEFORE.search(before):
            return f"{value}th"
        return m[0]

    text = _SPANISH_DAY_WORD.sub(spanish, text)
    return _ENGLISH_DAY_WORD.sub(english, text)


@lru_cache(maxsize=4096)
def _canonical_word(word: str) -> str:
    if word in MONTH_NAMES or word in WEEKDAY_NAMES or word in _NOT_TYPOS or word in _DAY_WORDS:
        return word
    if len(word) < 5 or not word.isalpha():
        return word
    best = process.extractOne(word, _FUZZY_CHOICES, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    if best is None:
        # One swapped, missing, extra or wrong letter ("firday", "juebes", "manna").
        near = [c for c in _FUZZY_CHOICES if OSA.distance(word, c, score_cutoff=1) <= 1]
        best = (near[0], 0.0, 0) if near else None
    # A typo rarely changes the first letter; requiring it keeps "partes" off "martes".
    if best is None or best[0][0] != word[0]:
        return word
    return best[0]


def canonical(norm: str) -> str:
    return " ".join(_canonical_word(w) for w in norm.split(" "))
