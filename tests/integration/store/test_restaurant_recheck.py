"""Each process trusts its copy of a restaurant's configuration for a while, then
re-checks its version. With many restaurants, the copies due together are
re-checked in one query instead of one each, and an edit is still seen within
the period."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container
from saveit.store import restaurants
from saveit.store.database import reading
from saveit.store.restaurants import RestaurantCache
from tests.support import demo_document


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_copies_due_together_are_rechecked_in_one_query_and_edits_are_seen(
    container: Container,
) -> None:
    engine = container.engine
    slugs = [f"r{i}" for i in range(5)]
    for slug in slugs:
        apply_spec(engine, parse_document(demo_document(slug=slug, name=slug)))
    ticks = Ticks()
    cache = RestaurantCache(recheck_s=1.0, clock=ticks)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM restaurants" in statement:
            statements.append(statement)

    with reading(engine) as conn:
        loaded = {slug: cache.get_versioned(conn, slug) for slug in slugs}
    ticks.now = 1.5  # every copy is due
    with engine.begin() as conn:  # another process edits r3
        restaurants.bump(conn, loaded["r3"][0].id)
    event.listen(engine, "before_cursor_execute", count)
    try:
        with reading(engine) as conn:
            assert cache.get_versioned(conn, "r0") == loaded["r0"]
            checks = len(statements)
            for slug in ("r1", "r2", "r4"):
                assert cache.get_versioned(conn, slug) == loaded[slug]  # no query
            assert len(statements) == checks
            assert cache.get_versioned(conn, "r3")[1] == loaded["r3"][1] + 1  # the edit
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert checks == 1  # r0 and the four others due with it, in one statement
    ticks.now = 2.4  # within a period of that check: still trusted
    assert cache.trusted("r1") is not None
    ticks.now = 2.6
    assert cache.trusted("r1") is None
