"""What the rules derive from one restaurant's configuration, worked out once.

A configuration only changes by becoming a new (immutable) ``Restaurant``
object, so anything computed from it — the seatings for a party size, a day's
slot grid — holds for as long as that object is the one in use. The hot paths
(every availability miss, every booking, event and notice) ask for these again
and again; remembering them per object saves recomputing them each time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from saveit.domain.model import Restaurant

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class PerConfiguration(Generic[_K, _V]):
    """``build(restaurant, key)``, remembered per restaurant object and key.

    Keyed by the object's identity and checked on use; the entry holds the object,
    so its id cannot be reused while remembered. Bounded: past ``max_entries`` it
    starts over (the values are cheap to rebuild, only not on every request)."""

    def __init__(self, build: Callable[[Restaurant, _K], _V], *, max_entries: int = 4096) -> None:
        self._build = build
        self._max = max_entries
        self._held: dict[tuple[int, _K], tuple[Restaurant, _V]] = {}

    def __call__(self, restaurant: Restaurant, key: _K) -> _V:
        held = self._held.get((id(restaurant), key))
        if held is not None and held[0] is restaurant:
            return held[1]
        value = self._build(restaurant, key)
        if len(self._held) >= self._max:
            self._held.clear()
        self._held[(id(restaurant), key)] = (restaurant, value)
        return value
