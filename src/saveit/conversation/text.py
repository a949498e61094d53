"""One normal form for guest text, so every rule downstream matches one spelling.

Guests write from phones: no accents, capitals or none, emoji, and chat
shorthand ("mñn", "x favor", "pls"). :func:`normalize` lowercases, strips
accents (``ñ`` becomes ``n``: guests drop the tilde as often as not), turns
emoji and stray symbols into spaces, and expands the shorthand listed in
:data:`SHORTHAND`. Digits, ``:``, ``/``, ``.`` between digits and ``+`` stay, for
times, dates, prices and phone numbers.
"""

from __future__ import annotations

import re
import unicodedata

SHORTHAND: dict[str, str] = {
    # Spanish
    "mñn": "manana",
    "mnn": "manana",
    "mñana": "manana",
    "xfa": "por favor",
    "xfavor": "por favor",
    "porfa": "por favor",
    "porfi": "por favor",
    "pf": "por favor",
    "q": "que",
    "k": "que",
    "xq": "porque",
    "pq": "porque",
    "tb": "tambien",
    "tmb": "tambien",
    "tbn": "tambien",
    "d": "de",
    "pa": "para",
    "xa": "para",
    "hr": "hora",
    "hrs": "horas",
    "sab": "sabado",
    "dom": "domingo",
    "vie": "viernes",
    "ns": "no se",
    "bn": "bien",
    "grax": "gracias",
    "grcs": "gracias",
    "thx": "thanks",
    "thnx": "thanks",
    "ty": "thank you",
    # English
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "u": "you",
    "ur": "your",
    "r": "are",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmro": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "tomoz": "tomorrow",
    "tonite": "tonight",
    "2nite": "tonight",
    "b4": "before",
    "ppl": "people",
    "res": "reservation",
    "resa": "reservation",
    "rez": "reservation",
    "wknd": "weekend",
    "sat": "saturday",
    "thurs": "thursday",
    "thu": "thursday",
    "tues": "tuesday",
    "wed": "wednesday",
    "fri": "friday",
    "mon": "monday",
    "w/": "with",
    "smth": "something",
    "sth": "something",
    "sthg": "something",
}
"""Chat shorthand, matched as whole words after lowercasing (accents still on)."""

_WORD = re.compile(r"[^\s]+")
# Not inside a contraction: the "d" of "we'd" and "i'd" is no Spanish "de".
_SHORTHAND = re.compile(
    r"(?<![\w/'’])("
    + "|".join(re.escape(k) for k in sorted(SHORTHAND, key=len, reverse=True))
    + r")(?![\w/'’])"
)
# x between words means "por" in Spanish chat ("x favor", "x la noche"); not between digits.
_X_POR = re.compile(r"(?<![\w])x(?= [a-z])")
# Before a count it means "para": "mesa x 4", "reserva x 2 personas".
_X_PARA = re.compile(r"(?<=[a-z] )x(?= \d{1,2}(?![\d:./]))")
# A count glued to its unit: "4ppl", "6personas".
_GLUED_COUNT = re.compile(r"(?<![\w:./])(\d{1,2})(ppl|people|personas|persons)\b")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _keep(c: str) -> str:
    if c.isalnum() or c in " :/+'-":
        return c
    if c in '.,;!?¡¿()"\n\t':
        return " " if c != "." else "."
    return " "  # emoji, symbols, punctuation we do not read


def normalize(text: str) -> str:
    lowered = text.lower()
    lowered = _SHORTHAND.sub(lambda m: SHORTHAND[m.group(1)], lowered)
    plain = strip_accents(lowered)
    plain = _X_POR.sub("por", plain)
    plain = _X_PARA.sub("para", plain)
    plain = _GLUED_COUNT.sub(lambda m: f"{m[1]} {'people' if m[2] == 'ppl' else m[2]}", plain)
    kept = "".join(_keep(c) for c in plain)
    # A dot survives only between digits (9.30, 24.12); elsewhere it ends a sentence.
    kept = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", kept)
    return " ".join(kept.split())


def words(normalized: str) -> list[str]:
    return _WORD.findall(normalized)
