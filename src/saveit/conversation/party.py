"""How many people a guest is booking for, read from normalized text (see :mod:`.text`).

A number is a party size only with words that make it one ("somos 4", "mesa
para dos", "party of 5", "4 pax", "4 of us"); a number followed by a time or
a month ("para las 9", "para 2 de la tarde", "para 24 de diciembre") is not.
Adults and children named together are added up ("4 adultos y 2 ninos" is 6).
Without a number, a couple ("mi mujer y yo", "my husband and I") is 2 and
someone alone ("solo yo", "just me", "table for one") is 1. "Un"/"una" are
articles, never 1, unless "una persona". A message that names several sizes
gives the most explicit one (units and "somos" over a bare "para 4"), then
the first.
"""

from __future__ import annotations

import re

__all__ = ["NUMBER_WORDS", "find_party_size"]

NUMBER_WORDS: dict[str, int] = {
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
    "veintiuno": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "treinta": 30,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "una docena": 12,
    "a dozen": 12,
    "media docena": 6,
    "half a dozen": 6,
    "un par de": 2,
    "a couple of": 2,
}
"""Counts as words; "uno"/"one" count only where nothing else could be meant."""

_LARGEST_PARTY = 500
_NUM = (
    r"(\d{1,3}|una(?= persona\b)|"
    + "|".join(sorted((w for w in NUMBER_WORDS), key=len, reverse=True))
    + r")"
)
_MONTHS = (
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|"
    r"noviembre|diciembre|january|february|march|april|june|july|august|september|"
    r"october|november|december|ene|jan|feb|mar|abr|apr|may|jun|jul|ago|aug|sep|sept|"
    r"oct|nov|dic|dec"
)
# After the number: it is a time, a date or a longer number, not a count.
_NOT_A_COUNT_AFTER = (
    r"(?![\w:/\-]|[.,]\d)(?! ?(?:am|a m|pm|p m|h|hs|hrs|horas|hours|o'clock|oclock|o clock|"
    r"ish|y media|y cuarto|menos cuarto|de la (?:manana|tarde|noche|madrugada)|del mediodia|"
    r"(?:de |of )?(?:" + _MONTHS + r")|thirty|fifteen|forty)\b)"
)
_PEOPLE = (
    r"personas?|pers|pax|people|persons?|guests?|comensales?|cubiertos|covers|diners|"
    r"invitados|adultos?|adults?|mayores|grown ?ups|of us|de nosotros"
)
_CHILDREN = r"ninos?|ninas?|kids?|children|child|bebes?|babies|baby|menores|peques|crios"
_UNIT = re.compile(r"(?<![\w:./\-])" + _NUM + r" ?(?:de )?(" + _PEOPLE + r"|" + _CHILDREN + r")\b")
_JOINER = re.compile(r" *(?:(?:y|e|and|mas|plus|\+|con|with|tambien|also) *)*")
_LEAD = re.compile(
    r"\b(?:somos|seremos|seriamos|estaremos|vamos a ser|vamos|iremos|vendremos|venimos|"
    r"we are|we're|we will be|we'll be|there will be|there'll be|there are|there's|"
    r"we are going to be|nosotros|party of|a party of|group of|grupo de|table for|"
    r"mesa para|mesa de|reserva para|reservar para|reservation for|booking for|book for|"
    r"reserve for|a total of|un total de|en total)"
    r" (?:unos |unas |about |around |approximately |aprox |aproximadamente |a total of |"
    r"un total de )?" + _NUM + _NOT_A_COUNT_AFTER
)
_FOR = re.compile(r"\b(?:para|for) (?:unos |unas |about |around )?" + _NUM + _NOT_A_COUNT_AFTER)
_RELATION = (
    r"mujer|marido|esposo|esposa|novia|novio|pareja|chica|chico|wife|husband|partner|"
    r"girlfriend|boyfriend|fiance|fiancee|amigo|amiga|friend|madre|padre|mama|papa|"
    r"mother|father|mom|mum|dad|hijo|hija|son|daughter|hermano|hermana|brother|sister|"
    r"jefe|jefa|boss|colleague|colega|companero|companera|suegra|suegro|abuela|abuelo|"
    r"grandma|grandpa|primo|prima|cousin|date|acompanante|guest"
)
_ME = r"(?:para )?(?:yo|i|me|mi|myself)"
_COUPLE = re.compile(
    r"\b(?:(?:para |for )?(?:mi|my) (?:"
    + _RELATION
    + r") (?:y|e|and) "
    + _ME
    + r"|"
    + _ME
    + r" (?:y|e|and) (?:para |for )?(?:mi|my) (?:"
    + _RELATION
    + r")"
    + r"|(?:con|with) (?:mi|my) (?:"
    + _RELATION
    + r")"
    + r"|(?:somos|we are|we're) (?:una |a )?(?:pareja|couple)|para (?:una |dos )?pareja"
    + r"|both of us|nosotros dos|los dos solos|the two of us)\b"
)
_ALONE = re.compile(
    r"\b(?:just me|only me|just myself|only myself|by myself|on my own|solo yo|yo solo|"
    r"yo sola|solo para mi|para mi solo|para mi sola|solo seria yo|seria solo yo|"
    r"table for one|a table for one|mesa para uno|mesa para una|mesa individual|"
    r"para uno solo|para una sola persona|i'm alone|im alone|i am alone|voy solo|voy sola|"
    r"vengo solo|vengo sola|iria solo|iria sola|ire solo|ire sola|i'll be alone|"
    r"just for me|only for me|solo para mi|for one person)\b"
)
# "one"/"uno" after "for"/"para" is a count only at the end or before these.
_ONE_FOLLOWERS = re.compile(
    r" ?(?:$|please|por favor|tonight|today|tomorrow|hoy|manana|at\b|a las|el\b|on\b|"
    r"this|next|este|esta|el proximo|person|persona)"
)


# "for a couple of days" is no party; these count only before a word for people.
_ONLY_BEFORE_PEOPLE = frozenset({"un par de", "a couple of"})


def _count(word: str) -> int:
    if word == "una":  # matched only before "persona"
        return 1
    return NUMBER_WORDS[word] if word in NUMBER_WORDS else int(word)


def _units(norm: str) -> list[tuple[int, int, int]]:
    """(rank, start, size) per chain of counted groups: "4 adultos y 2 ninos" is one
    chain, and a chain of several groups outranks "somos 4" before it."""
    chains: list[tuple[int, int, int]] = []
    end = -1
    for m in _UNIT.finditer(norm):
        if m[1] in {"uno", "one"} and m[2] not in {"persona", "person", "adulto", "adult"}:
            continue
        size = _count(m[1])
        if end >= 0 and _JOINER.fullmatch(norm, end, m.start()) is not None:
            _, start, total = chains[-1]
            chains[-1] = (0, start, total + size)
        else:
            chains.append((1, m.start(), size))
        end = m.end()
    return chains


def _leads(pattern: re.Pattern[str], norm: str, rank: int) -> list[tuple[int, int, int]]:
    found = []
    for m in pattern.finditer(norm):
        if m[1] in {"uno", "one"} and not _ONE_FOLLOWERS.match(norm, m.end()):
            continue
        if m[1] in _ONLY_BEFORE_PEOPLE:
            continue
        found.append((rank, m.start(), _count(m[1])))
    return found


def find_party_size(norm: str) -> int | None:
    """``None`` when the message does not say how many."""
    candidates = _units(norm) + _leads(_LEAD, norm, 1) + _leads(_FOR, norm, 2)
    sizes = [size for _, _, size in sorted(candidates) if 0 < size <= _LARGEST_PARTY]
    if sizes:
        return sizes[0]
    if _COUPLE.search(norm):
        return 2
    if _ALONE.search(norm):
        return 1
    return None
