"""A console request about one restaurant sees only that restaurant's rows on
PostgreSQL (row-level security), as an API request with that restaurant's token
does: the console cannot reach the store, so it asks here."""

from __future__ import annotations

from saveit.store import tenancy


def enter_restaurant(restaurant_id: int) -> None:
    """Scope the rest of the current request's context to ``restaurant_id``."""
    tenancy.enter_tenant(restaurant_id)
