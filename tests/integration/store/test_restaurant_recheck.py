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


def test_many_configurations_load_in_a_few_queries_as_each_loads_alone(
    container: Container,
) -> None:
    """A process starting loads every restaurant's configuration at once: the same
    restaurants as one by one (hours, special dates, tables, combinations), in six
    queries whatever their number."""
    engine = container.engine
    closed = {"date": "2026-06-10", "closed": True, "note": "Inventory"}
    apply_spec(engine, parse_document(demo_document(slug="a", name="A")))
    apply_spec(engine, parse_document(demo_document(slug="b", name="B", special_dates=[closed])))
    apply_spec(engine, parse_document(demo_document(slug="c", name="C", combinations=[])))
    with reading(engine) as conn:
        ids = [restaurants.id_of(conn, slug) for slug in "abc"]
        one_by_one = {i: restaurants.load(conn, i) for i in ids}
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with reading(engine) as conn:
            together = restaurants.load_many(conn, ids)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert together == one_by_one
    assert together[ids[1]].special_dates
    assert not together[ids[2]].combinations
    assert len(statements) == 6


def test_a_starting_process_trusts_every_configuration_before_its_first_request(
    container: Container,
) -> None:
    """``RestaurantCache.preload`` as the API's startup runs it: afterwards the
    first read of each restaurant asks the database nothing about its configuration
    (before, each cost seven queries, paid by that restaurant's first guest)."""
    from fastapi.testclient import TestClient

    from saveit.api.app import create_app

    engine = container.engine
    for slug in ("r0", "r1", "r2"):
        apply_spec(engine, parse_document(demo_document(slug=slug, name=slug)))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM restaurants" in statement or "FROM dining_tables" in statement:
            statements.append(statement)

    with TestClient(create_app(container)) as api:
        assert all(container.booking.cache.trusted(s) is not None for s in ("r0", "r1", "r2"))
        event.listen(engine, "before_cursor_execute", count)
        try:
            got = api.get("/v1/restaurants/r1/availability?date=2026-06-03&party_size=2")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert got.status_code == 200
    assert statements == []


def test_a_process_starts_when_the_database_is_away_and_loads_on_demand(
    settings: Any, clock: Any, tmp_path: Any
) -> None:
    """The preload is a head start, not a condition: with the database unreachable
    the process still starts (its health answers), as it did without one."""
    from fastapi.testclient import TestClient

    from saveit.api.app import create_app
    from saveit.bootstrap import build

    away = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/none/x.db"})
    built = build(away, clock=clock, migrate=False)
    try:
        with TestClient(create_app(built)) as api:
            assert api.get("/healthz").status_code == 200
            assert built.booking.cache.trusted("demo") is None
    finally:
        built.close()
