"""PostgreSQL row-level security: a query that forgets its restaurant filter
still returns nothing of another restaurant when the request is a restaurant's.

The suite connects as an ordinary role (neither superuser nor BYPASSRLS, see
tests/conftest.py), as production must: a superuser ignores every policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.api.auth import HostOf
from saveit.api.deps import ContainerDep
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.store import tenancy
from saveit.store.schema import guests, metadata, reservations, restaurants, table_claims
from tests.conftest import ADMIN_TOKEN, _empty_postgres
from tests.support import FakeClock, demo_document

pytestmark = pytest.mark.postgres

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def app_role_url(pg_server_url: str) -> str:
    """The test database, reached as the suite's ordinary role (tests/conftest.py)."""
    _empty_postgres(pg_server_url)
    return pg_server_url


@pytest.fixture
def two_restaurants(app_role_url: str, tmp_path: Any) -> Iterator[Container]:
    settings = Settings(
        database_url=app_role_url,
        data_dir=tmp_path,
        secret_key="test-secret-key",  # type: ignore[arg-type]
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
        relay_in_process=False,
        ratelimit_enabled=False,
        db_pool_size=1,  # one connection: every transaction reuses what the last one set
    )
    container = build(settings, clock=FakeClock(), migrate=False)
    for slug, name in (("demo", "Demo"), ("other", "Otro")):
        apply_spec(container.engine, parse_document(demo_document(slug=slug, name=name)))
    with TestClient(create_app(container)) as client:
        for slug, phone in (("demo", "600111222"), ("other", "600333444")):
            response = client.post(
                f"/v1/restaurants/{slug}/reservations",
                json={
                    "name": f"Guest of {slug}",
                    "phone": phone,
                    "date": "2026-06-03",
                    "time": "21:00",
                    "party_size": 2,
                },
            )
            assert response.status_code == 201, response.text
    yield container
    container.close()


def _restaurant_id(engine: Engine, slug: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(restaurants.c.id).where(restaurants.c.slug == slug)).one()[0]
        )


def _count(engine: Engine, table: Any) -> int:
    with engine.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_query_without_a_restaurant_filter_sees_only_the_scoped_restaurant(
    two_restaurants: Container,
) -> None:
    """Fails before the fix: with no policies, the unfiltered query returns both
    restaurants' reservations, guests and claims."""
    engine = two_restaurants.engine
    demo_id = _restaurant_id(engine, "demo")
    assert _count(engine, reservations) == 2  # unscoped work (relay, webhooks) sees all
    with tenancy.tenant_scope(demo_id):
        with engine.begin() as conn:
            rows = conn.execute(select(reservations.c.restaurant_id)).all()
            names = conn.execute(select(guests.c.name)).scalars().all()
            slugs = conn.execute(select(restaurants.c.slug)).scalars().all()
        assert {row.restaurant_id for row in rows} == {demo_id}
        assert names == ["Guest of demo"]
        assert slugs == ["demo"]
        claimed = _count(engine, table_claims)
    assert 0 < claimed < _count(engine, table_claims)


def test_a_scoped_transaction_cannot_write_into_another_restaurant(
    two_restaurants: Container,
) -> None:
    """Fails before the fix: the insert into the other restaurant succeeds."""
    engine = two_restaurants.engine
    demo_id, other_id = _restaurant_id(engine, "demo"), _restaurant_id(engine, "other")
    move = text("UPDATE guests SET restaurant_id = :other WHERE restaurant_id = :demo")
    with (
        tenancy.tenant_scope(demo_id),
        pytest.raises(Exception, match="row-level security"),
        engine.begin() as conn,
    ):
        conn.execute(move, {"other": other_id, "demo": demo_id})


def test_the_scope_never_outlives_its_transaction_on_a_pooled_connection(
    two_restaurants: Container,
) -> None:
    """One pooled connection serves scoped and unscoped work in turn, including
    after a scoped transaction rolls back (PostgreSQL undoes a setting made in
    it): each sees exactly its own scope."""
    engine = two_restaurants.engine
    demo_id, other_id = _restaurant_id(engine, "demo"), _restaurant_id(engine, "other")
    with tenancy.tenant_scope(demo_id):
        assert _count(engine, reservations) == 1
    assert _count(engine, reservations) == 2
    with tenancy.tenant_scope(other_id):
        conn = engine.connect()
        transaction = conn.begin()
        assert conn.execute(select(func.count()).select_from(reservations)).scalar() == 1
        transaction.rollback()
        conn.close()
        assert _count(engine, reservations) == 1
    assert _count(engine, reservations) == 2
    with engine.connect() as conn:  # autocommit reads too
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with tenancy.tenant_scope(demo_id), conn.begin():
            found = conn.execute(select(reservations.c.restaurant_id)).scalars().all()
    assert found == [demo_id]


def test_a_staff_request_runs_scoped_to_the_token_restaurant(two_restaurants: Container) -> None:
    """The whole path: a staff token's request reaches the database scoped, so a
    handler that forgot its filter still answers with its own restaurant only.

    Fails before the fix: the forgetful handler counts both restaurants' bookings."""
    app: FastAPI = create_app(two_restaurants)

    def forgetful(slug: str, actor: HostOf, container: ContainerDep) -> dict[str, int]:
        with container.booking.reading() as conn:
            return {
                "bookings": conn.execute(
                    select(func.count()).select_from(reservations)
                ).scalar_one()
            }

    app.add_api_route("/probe/{slug}", forgetful, methods=["GET"])
    with TestClient(app) as client:
        token = client.post(
            "/v1/restaurants/demo/tokens", json={"role": "host", "name": "host"}, headers=ADMIN
        ).json()["token"]
        mine = client.get("/probe/demo", headers={"Authorization": f"Bearer {token}"})
        as_admin = client.get("/probe/demo", headers=ADMIN)
    assert mine.json() == {"bookings": 1}
    assert as_admin.json() == {"bookings": 2}  # the admin token belongs to no restaurant


def test_every_tenant_table_is_protected(two_restaurants: Container) -> None:
    """A table added later with a restaurant_id (or hanging off one) must get the
    policy too; this lists any that did not."""
    with two_restaurants.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relkind IN ('r', 'p') AND NOT relispartition "
                "AND relnamespace = current_schema()::regnamespace"
            )
        ).all()
    protected = {row.relname for row in rows if row.relrowsecurity and row.relforcerowsecurity}
    ours = {table.name for table in metadata.sorted_tables}
    exempt = tenancy.UNSCOPED_TABLES
    assert ours - protected - exempt == set()
    with_tenant = {t.name for t in metadata.sorted_tables if "restaurant_id" in t.c}
    assert with_tenant <= protected
    assert {child for child, _, _ in tenancy.CHILD_TABLES} <= protected
    assert not tenancy.bypasses_row_security(two_restaurants.engine)
