"""The smaller slots of a guest message: name, seating area, booking code, which
of a list, and yes or no.

Each reader is conservative: a slot the guest did not clearly give stays
``None``, because asking again costs one message and a wrong name or a wrong
"yes" costs a booking. All but :func:`find_name` and :func:`find_code` take
normalized text (see :mod:`.text`); those two need the capitals the guest typed.
"""

from __future__ import annotations

import re

from saveit.booking.codes import ALPHABET, LENGTH

__all__ = ["find_affirm", "find_area", "find_code", "find_name", "find_ordinal"]

# --- name ---------------------------------------------------------------------------

# After these the name is said outright, so a lowercase "me llamo ana" counts.
_STRONG_LEAD = (
    r"me llamo|mi nombre es|a nombre de|al nombre de|en nombre de|de parte de|"
    r"nombre\s*:|name\s*:|my name is|my name's|my name’s|the name is|name is|name's|name’s|"
    r"under the name of|under the name|in the name of|reservation under|booking under"
)
# After these a name must be capitalized or pass the word lists: "soy celiaca",
# "I'm looking for" are no names.
_WEAK_LEAD = r"soy|i['’]m|i am|this is|under"
_LEAD = re.compile(
    r"(?i)(?<![^\W\d_])(?:(" + _STRONG_LEAD + r")|(" + _WEAK_LEAD + r"))(?=\s|$)[ \t]*"
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "van", "von", "da", "di", "du", "le"})
_NOT_NAMES = frozenset(
    str.split("""
    para por for y e and a al at el la lo las los un una uno the an of con with sin without
    que who which what porque because pero but o or ni de del en in on to from desde hasta
    mi my tu your su his her our nuestra nuestro me yo i we nosotros you usted ustedes
    please favor porfa gracias thanks thank hola hello hi hey buenas buenos
    hoy today manana tomorrow tonight noche night tarde evening pasado esta este this next
    mesa table reserva reservar reservation booking book cita cena comida lunch dinner
    persona personas people pax somos we're are is es son was fue
    muy very so tan bastante quite really just solo only also tambien ya already still
    not no nunca never yes si ok vale claro sure
    celiaco celiaca vegano vegana vegetariano vegetariana vegan vegetarian alergico
    alergica allergic intolerante intolerant diabetico diabetica embarazada pregnant
    cliente client customer socio member nuevo nueva new habitual regular
    looking hungry sorry afraid late early here there back calling writing trying going
    coming interested wondering sure glad happy ready available free busy fine good well
    tired running planning thinking hoping asking afraid alone
    aqui alli yo el ella ellos ellas
    """)
)
# Lowercase after a weak lead: adjective and participle endings, no names.
_NOT_NAME_ENDINGS = ("ing", "ado", "ada", "ido", "ed", "ble", "oso", "osa", "ista", "ivo", "iva")
_MAX_NAME_WORDS = 3


def _fold(word: str) -> str:
    table = str.maketrans("áéíóúüñàèìòù", "aeiouunaeiou")
    return word.lower().translate(table)


def _title(word: str) -> str:
    if not (word.islower() or word.isupper()):
        return word  # "McDonald" as typed
    return re.sub(r"[^\W\d_]+", lambda m: m[0][0].upper() + m[0][1:].lower(), word)


def _is_capitalized(word: str) -> bool:
    return word[0].isupper()


def _name_after(text: str, start: int, *, strong: bool) -> str | None:
    words: list[str] = []
    pending: list[str] = []  # particles waiting for a surname after them
    pos = start
    capitalized: bool | None = None
    while len(words) < _MAX_NAME_WORDS:
        m = _NAME_WORD.match(text, pos)
        if m is None:
            break
        word = m[0]
        folded = _fold(word)
        is_particle = folded in _PARTICLES and bool(words)
        if is_particle and capitalized and not _is_capitalized(word):
            pending.append(word)
        elif folded in _NOT_NAMES:
            break
        else:
            if capitalized is None:
                capitalized = _is_capitalized(word)
            elif capitalized and not _is_capitalized(word):
                break
            words.extend(pending)
            pending.clear()
            words.append(word)
        after = m.end()
        gap = re.match(r"[ \t]+", text[after:])
        if gap is None:
            break
        pos = after + gap.end()
    if not words:
        return None
    doubtful = len(words) > 2 or _fold(words[0]).endswith(_NOT_NAME_ENDINGS)
    if not capitalized and not strong and doubtful:
        return None
    return " ".join(
        w.lower() if i and _fold(w) in _PARTICLES else _title(w) for i, w in enumerate(words)
    )


def find_name(text: str) -> str | None:
    """``text`` as the guest typed it. The name stops at punctuation, digits and
    words like "para"/"for"/"y"; at most three words plus particles ("de la")."""
    for m in _LEAD.finditer(text):
        name = _name_after(text, m.end(), strong=m[1] is not None)
        if name is not None:
            return name
    return None


# --- seating area -------------------------------------------------------------------

_AREA_WORDS: dict[str, str] = {
    "terraza": "terrace",
    "fuera": "terrace",
    "afuera": "terrace",
    "exterior": "terrace",
    "outside": "terrace",
    "outdoor": "terrace",
    "outdoors": "terrace",
    "terrace": "terrace",
    "patio": "terrace",
    "al aire libre": "terrace",
    "dentro": "indoor",
    "adentro": "indoor",
    "interior": "indoor",
    "salon": "indoor",
    "comedor": "indoor",
    "inside": "indoor",
    "indoors": "indoor",
    "indoor": "indoor",
}
_OTHER_AREA = {"terrace": "indoor", "indoor": "terrace"}
_AREA = re.compile(
    r"\b(" + "|".join(sorted(_AREA_WORDS, key=len, reverse=True)) + r")\b"
    # "si fuera posible" is "if it were possible"; "dentro de una hora" is "in an hour".
)
_NOT_AN_AREA = re.compile(
    r"(?:\b(?:si|que|aunque|como si|ojala) fuera$)|(?:^(?:fuera|dentro) de (?!la sala|el local))"
)
_POSTFIX_NO = re.compile(r" no\b")
_AREA_NEGATION = re.compile(
    r"\b(?:no|not|sin|nada de|ni|don't|dont|do not|rather not|prefer not|mejor no|never)"
    r"(?: (?:want|quiero|queremos|en|on|the|la|el|a|at|in|de|sit|sentarnos|estar|be))*$"
)


def find_area(norm: str) -> str | None:
    """ "terrace" or "indoor". Negation flips: "no terraza" is indoor. In "terraza
    no, dentro" the "no" belongs to the terrace; then the last area not negated
    wins, and with none, the opposite of the last negated one."""
    resolved: list[tuple[str, bool]] = []
    boundary = 0
    for m in _AREA.finditer(norm):
        word = m[1]
        if word in {"fuera", "dentro"} and (
            _NOT_AN_AREA.search(norm[max(0, m.start() - 20) : m.end()])
            or _NOT_AN_AREA.search(norm[m.start() : m.end() + 15])
        ):
            continue
        postfix = _POSTFIX_NO.match(norm, m.end())
        prefix = _AREA_NEGATION.search(norm[boundary : m.start()].rstrip()) is not None
        resolved.append((_AREA_WORDS[word], prefix or postfix is not None))
        boundary = postfix.end() if postfix is not None else m.end()
    positive = [area for area, negated in resolved if not negated]
    if positive:
        return positive[-1]
    if resolved:
        return _OTHER_AREA[resolved[-1][0]]
    return None


# --- booking code -------------------------------------------------------------------

_CODE = re.compile(
    rf"(?<![A-Za-z0-9])([A-Za-z0-9]{{{LENGTH}}}|[A-Za-z0-9]{{4}}-[A-Za-z0-9]{{{LENGTH - 4}}})"
    r"(?![A-Za-z0-9])"
)
_CODE_CHARS = frozenset(ALPHABET)


def find_code(text: str) -> str | None:
    """A public booking code as typed, returned uppercase. Letters and digits
    mixed, in any case. Letters only, when typed in capitals and with at most
    two vowels: the code alphabet has no I, O or U, so a random code rarely has
    more, while words ("RESERVAS", "TERRAZAS") always do."""
    for m in _CODE.finditer(text):
        token = m[1].replace("-", "")
        upper = token.upper()
        if len(upper) != LENGTH or not set(upper) <= _CODE_CHARS:
            continue
        has_digit = any(c.isdigit() for c in upper)
        has_letter = any(c.isalpha() for c in upper)
        if has_digit and has_letter:
            return upper
        if has_letter and token.isupper() and sum(c in "AE" for c in upper) <= 2:
            return upper
    return None


# --- which of a list ----------------------------------------------------------------

_ORDINALS: dict[str, int] = {
    "primera": 1,
    "primero": 1,
    "first": 1,
    "1st": 1,
    "segunda": 2,
    "segundo": 2,
    "second": 2,
    "2nd": 2,
    "tercera": 3,
    "tercero": 3,
    "third": 3,
    "3rd": 3,
    "cuarta": 4,
    "fourth": 4,
    "4th": 4,
    "quinta": 5,
    "quinto": 5,
    "fifth": 5,
    "5th": 5,
    "ultima": -1,
    "ultimo": -1,
    "last": -1,
    "penultima": -2,
    "penultimo": -2,
}
_ORD = r"(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")"
_CHOICE_AFTER = (
    r"(?: (?:one|reserva|reservation|booking|option|opcion|de ellas|de ellos|of them|"
    r"de la lista|on the list|de las dos|of the two|please|por favor|gracias|thanks))*$"
)
_ORDINAL_ALONE = re.compile(
    r"^(?:(?:la|el|the|mi|my|pues|ok|vale|si|yes) )*" + _ORD + _CHOICE_AFTER
)
_ORDINAL_CHOICE = re.compile(
    r"\b(?:la|el|the|my|mi|al|a la) "
    + _ORD
    + r"(?= (?:one|reserva|reservation|booking|option|opcion|de ellas|de ellos|of them)\b|$)"
)
_NUMBERED = re.compile(r"\b(?:opcion|option|numero|number|num|no) ([1-9])(?![\d:./])")


def find_ordinal(norm: str) -> int | None:
    """1-based position in a list the guest was shown; -1 is the last, -2 the one
    before it. Only as a choice ("la segunda", "the first one", "la ultima
    reserva", "option 2"), never "primera vez" or "the first time"."""
    m = _ORDINAL_ALONE.match(norm) or _ORDINAL_CHOICE.search(norm)
    if m is not None:
        return _ORDINALS[m[1]]
    n = _NUMBERED.search(norm)
    return int(n[1]) if n is not None else None


# --- yes or no ----------------------------------------------------------------------

_OPENERS = r"(?:(?:pues|bueno|bien|entonces|oh|ah|eh|hmm|mmm|um|uh|well|vale|ok|okay|so|hola|hi) )*"
_NO_PHRASE = (
    r"no(?: no)*(?! se\b| hay problema| problem| pasa nada| worries| te preocupes| importa)"
    r"|nop|nope|nah|negativo|para nada|ni hablar|de ninguna manera|no way|not really|"
    r"mejor no|mejor que no|creo que no|i don't think so|i dont think so|claro que no|"
    r"por supuesto que no|of course not|definitely not|certainly not|absolutely not|"
    r"not now|ahora no|todavia no|aun no|not yet|no gracias|no thanks|no thank you"
)
_YES_PHRASE = (
    r"si(?! (?:no|hay|es posible|puede|puedes|pueden|podeis|podria|podrias|podrian|fuera|"
    r"tienen|tienes|teneis|quedan|queda|hubiera|se puede|quiere|quieres|quereis|"
    r"te|le|les|os|me parece que no)\b)"
    r"|sip|sii+|vale|ok|okay|okey|oki|claro|perfecto|perfecta|correcto|correcta|confirmo|"
    r"confirmado|confirmada|de acuerdo|dale|genial|estupendo|exacto|eso es|por supuesto|"
    r"adelante|me vale|me va bien|me parece bien|muy bien|yes|yep|yup|yeah|yea|"
    r"sure|confirm|confirmed|sounds good|sounds great|great|perfect|correct|of course|"
    r"absolutely|definitely|go ahead|that's right|thats right|that works|that's fine|"
    r"fine|alright|all right|no problem|no hay problema|sin problema|claro que si|"
    r"creo que si|i think so|please do|do it|hazlo"
)
_NO = re.compile(r"^" + _OPENERS + r"(?:" + _NO_PHRASE + r")\b")
_YES = re.compile(r"^" + _OPENERS + r"(?:" + _YES_PHRASE + r")\b")
_NO_ANYWHERE = re.compile(
    r"\b(?:mejor no|mejor que no|no gracias|no thanks|no thank you|not really|no way|"
    r"de ninguna manera|ni hablar|creo que no|i don't think so|i dont think so|"
    r"claro que no|of course not|nope)\b"
)
_YES_ONLY = re.compile(
    r"^(?:(?:" + _YES_PHRASE + r"|gracias|thanks|thank you|please|por favor) ?)+$"
)


def find_affirm(norm: str) -> bool | None:
    """For a yes/no question: the guest's answer leads the message ("si, a las 9",
    "no, mejor a las 10"), or says no outright later on ("pues mejor no").
    ``None`` when neither: "no se" (I don't know), "si puede ser" (if possible),
    a new request. Emoji are gone in normalized text, so a bare thumbs-up is ``None``."""
    if _NO.match(norm) or _NO_ANYWHERE.search(norm):
        return False
    if _YES.match(norm) or _YES_ONLY.match(norm):
        return True
    return None
