"""The console's two languages: a message catalogue keyed by message id, the
language a request is served in, and dates formatted for it (Babel).

A page module adds its own messages with :func:`add` when it is imported; every
id must exist in both languages (a test checks). The language is the person's
stored preference, else the browser's (``Accept-Language``), else Spanish.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

LANGUAGES = ("es", "en")
DEFAULT = "es"

_CATALOGUE: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}


def add(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add ``{language: {id: text}}``; both languages, the same ids."""
    if set(messages) != set(LANGUAGES):
        raise ValueError(f"messages must be given in {LANGUAGES}")
    ids = {lang: set(texts) for lang, texts in messages.items()}
    if ids["es"] != ids["en"]:
        raise ValueError(f"ids differ between languages: {sorted(ids['es'] ^ ids['en'])}")
    for lang, texts in messages.items():
        clash = set(texts) & set(_CATALOGUE[lang])
        if clash:
            raise ValueError(f"message ids already defined: {sorted(clash)}")
        _CATALOGUE[lang].update(texts)


def catalogue() -> Mapping[str, Mapping[str, str]]:
    return _CATALOGUE


def translate(lang: str, key: str, **values: object) -> str:
    text = _CATALOGUE[lang].get(key) or _CATALOGUE[DEFAULT].get(key) or key
    return text.format(**values) if values else text


def from_accept_language(header: str | None) -> str | None:
    """The first of our languages the browser asks for, by its q-values."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, i, tag.strip()))
    preferred = [tag.replace("_", "-") for _, _, tag in sorted(ranked)]
    try:
        found = Locale.negotiate(preferred, list(LANGUAGES), sep="-")
    except (UnknownLocaleError, ValueError):
        found = None
    if found is not None:
        return str(found.language)
    for tag in preferred:  # "en-GB" when only "en" is listed: Babel wants aliases
        base = tag.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return None


def moment(value: dt.datetime, lang: str) -> str:
    return format_datetime(value, format="medium", locale=lang)
