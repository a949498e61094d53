"""The console's navigation: a registry that pages add their entry to when their
module is imported. The shell lists, for the restaurant in view, the entries the
person's role there reaches, in ``order``; a page that does not exist has no entry."""

from __future__ import annotations

from dataclasses import dataclass

from saveit.accounts import ROLES, at_least


@dataclass(frozen=True, slots=True)
class NavEntry:
    key: str  # unique; also marks the current page (``aria-current``)
    label: str  # message id in the catalogue (saveit.console.i18n)
    path: str  # under the restaurant, e.g. "staff" -> /console/r/{slug}/staff; "" is home
    minimum: str  # the least role that sees (and may open) it
    order: int  # position in the menu, lowest first

    def href(self, slug: str) -> str:
        base = f"/console/r/{slug}"
        return f"{base}/{self.path}" if self.path else base


_ENTRIES: dict[str, NavEntry] = {}


def register(entry: NavEntry) -> NavEntry:
    if entry.minimum not in ROLES:
        raise ValueError(f"unknown role {entry.minimum!r}")
    if entry.key in _ENTRIES and _ENTRIES[entry.key] != entry:
        raise ValueError(f"a nav entry {entry.key!r} exists already")
    _ENTRIES[entry.key] = entry
    return entry


def visible(role: str) -> list[NavEntry]:
    """The entries ``role`` reaches, in menu order."""
    return sorted(
        (e for e in _ENTRIES.values() if at_least(role, e.minimum)), key=lambda e: e.order
    )
