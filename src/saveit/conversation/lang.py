"""Which language a guest wrote in: Spanish or English, from marker words.

Each language has a list of words that are common in guest messages and rare
in the other language (stopwords, restaurant words, chat forms). A message
scores one point per marker word, two for the most telling ones; a typo one
or two letters off a long marker still counts ("qiero", "tomorow"). Words
both languages share ("no", "ok", "menu", digits, names) count for neither.

A message with no signal, or as much of one as the other ("ok", "21:00",
"4", "vale ok"), keeps the language remembered for the guest: replying in
the language of the conversation beats guessing from a word. Without one,
Spanish, the restaurant's own language.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

__all__ = ["detect", "known_words", "scores"]

_ES_STRONG = frozenset(
    str.split("""
    quiero queria quisiera queremos querria querriamos gustaria reservar reserva reservas
    mesa mesas manana hoy noche tarde hola buenas buenos gracias somos personas persona
    teneis tienen tienes hay cancelar anular cambiar abris abren cerrais cierran horario
    sabado domingo lunes martes miercoles jueves viernes finde semana mediodia cenar comer
    nosotros vosotros usted ustedes necesito podeis puedo podemos podria seremos sitio
    hueco disponibilidad nombre llamo porfavor favor nada ninos mujer marido novia novio
    pareja amigos vale claro adios perdon pasado cena comida terraza dentro fuera
    estais abiertos cerrado cerrados cuando donde tambien ahora despues antes mejor
    jaja jajaja jajajaja vegano vegana veganas veganos hablar alguien
    """)
)
_ES_WEAK = frozenset(
    str.split("""
    de del la el los las que para por y con mi mis tu su una uno dos tres cuatro cinco
    seis siete ocho nueve diez once doce es esta estan son al lo le les nos os se si
    como pero muy mas hora horas media cuarto dia dias mes enero febrero marzo abril
    mayo junio julio agosto septiembre octubre noviembre diciembre yo solo sola
    algo alguna alguno otra otro ya aun todavia bien gente ver hacer poner cual cuales
    """)
)
_EN_STRONG = frozenset(
    str.split("""
    the you your we i'm i'd i'll we're we'd we'll would could should please thanks thank
    table tables book booking bookings reservation reservations reserve tomorrow today
    tonight people hello hi hey there what when where which time open close closing
    cancel change move saturday sunday monday tuesday wednesday thursday friday weekend
    evening morning afternoon night lunch dinner want like need have has does do
    available availability just only wife husband girlfriend boyfriend friends name
    speak talk someone somebody anyone human person guys cheers bye sorry o'clock
    half past quarter noon midnight hours anything any i can't don't won't it's what's
    i've isn't aren't there's let's agent staff lol haha hahaha sounds good nope hiya
    orders last under great
    """)
)
_EN_WEAK = frozenset(
    str.split("""
    a an to for and is are of at on in with my me our us it this that next can get
    be will was from one two three four five six seven eight nine ten eleven twelve
    by about around how much some all here if or not no yes yeah yep sure also
    """)
)
_WEIGHTS: dict[str, tuple[str, int]] = {}
for _words, _lang, _weight in (
    (_ES_WEAK, "es", 1),
    (_EN_WEAK, "en", 1),
    (_ES_STRONG, "es", 2),
    (_EN_STRONG, "en", 2),
):
    for _w in _words:
        _WEIGHTS[_w] = (_lang, _weight)
# Shared between the languages or too short to tell: never a marker.
for _w in ("a", "no", "me", "mi", "si", "ok", "menu", "pm", "am"):
    _WEIGHTS.pop(_w, None)
_WEIGHTS["mi"] = ("es", 1)  # "mi reserva": English never writes "mi"
_WEIGHTS["si"] = ("es", 1)  # "si" without accent is Spanish yes/if
_LONG_MARKERS = tuple(w for w in _WEIGHTS if len(w) >= 5 and _WEIGHTS[w][1] == 2)
_FUZZY_CUTOFF = 85.0


@lru_cache(maxsize=8192)
def _marker(word: str) -> tuple[str, int] | None:
    found = _WEIGHTS.get(word)
    if found is not None:
        return found
    if len(word) < 5 or not word.isalpha():
        return None
    best = process.extractOne(word, _LONG_MARKERS, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    if best is None or best[0][0] != word[0]:
        return None
    return _WEIGHTS[best[0]]


def known_words() -> frozenset[str]:
    """Every marker word, so other readers leave real words alone when fixing typos."""
    return _ES_STRONG | _ES_WEAK | _EN_STRONG | _EN_WEAK


_REPEATS = re.compile(r"([a-z])\1{2,}")


def scores(norm: str) -> tuple[int, int]:
    """(Spanish, English) points; exposed for tests and for tuning the lists."""
    es = en = 0
    for word in _REPEATS.sub(r"\1", norm).split():
        found = _marker(word)
        if found is None:
            continue
        if found[0] == "es":
            es += found[1]
        else:
            en += found[1]
    return es, en


def detect(norm: str, hint: str | None = None) -> str:
    """``norm`` is normalized text (see :mod:`.text`); ``hint`` the language
    remembered for the guest, returned when the text does not decide."""
    es, en = scores(norm)
    if es > en:
        return "es"
    if en > es:
        return "en"
    return hint if hint in {"es", "en"} else "es"
