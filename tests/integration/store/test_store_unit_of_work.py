"""The unit of work: one transaction, its outbox events, and what runs after it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from saveit.domain.commands import GuestDetails
from saveit.domain.model import Rules
from saveit.store.database import create_db_engine
from saveit.store.unit_of_work import Database, UnitOfWork

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Boom(Exception):
    pass


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(create_db_engine(db_url))
    yield database
    database.dispose()


@pytest.fixture
def restaurant_id(db: Database) -> int:
    with db.unit_of_work() as uow:
        return uow.restaurants.create(
            slug="uow", name="UoW", timezone="Europe/Madrid", rules=Rules(), contact={}
        )


def _backlog(db: Database) -> int:
    with db.reading() as r:
        return r.outbox.backlog()[0]


def _emit(uow: UnitOfWork, restaurant_id: int) -> str:
    return uow.emit(restaurant_id=restaurant_id, type_="test.happened", payload={"n": 1}, at=NOW)


def test_commits_on_clean_exit_and_runs_callbacks_after(db: Database, restaurant_id: int) -> None:
    seen: list[int] = []
    with db.unit_of_work() as uow:
        _emit(uow, restaurant_id)
        uow.after_commit(lambda: seen.append(_backlog(db)))
        assert seen == []  # not before the commit
    assert seen == [1]  # after it, and the callback sees the committed row


def test_rolls_back_on_exception_and_skips_callbacks(db: Database, restaurant_id: int) -> None:
    seen: list[str] = []
    created: list[int] = []

    def fails() -> None:
        with db.unit_of_work() as uow:
            _emit(uow, restaurant_id)
            created.append(uow.guests.create(restaurant_id, GuestDetails(name="Ana"), NOW).id)
            uow.after_commit(lambda: seen.append("ran"))
            raise Boom

    with pytest.raises(Boom):
        fails()
    assert seen == []
    assert _backlog(db) == 0
    with db.reading() as r:
        assert r.guests.name_and_language(created[0]) is None


def test_a_failing_callback_is_logged_not_raised(
    db: Database, restaurant_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def fails() -> None:
        raise RuntimeError("callback broke")

    with caplog.at_level(logging.ERROR, "saveit.store.unit_of_work"), db.unit_of_work() as uow:
        _emit(uow, restaurant_id)
        uow.after_commit(fails)
        uow.after_commit(lambda: seen.append("second"))
    assert seen == ["second"]
    assert "after-commit callback failed" in caplog.text
    assert _backlog(db) == 1


def test_a_savepoint_undoes_only_itself(db: Database, restaurant_id: int) -> None:
    def fails(uow: UnitOfWork) -> None:
        with uow.savepoint():
            _emit(uow, restaurant_id)
            raise Boom

    with db.unit_of_work() as uow:
        _emit(uow, restaurant_id)
        with pytest.raises(Boom):
            fails(uow)
    assert _backlog(db) == 1


def test_a_contact_taken_elsewhere_is_refused_in_a_savepoint(
    db: Database, restaurant_id: int
) -> None:
    with db.unit_of_work() as uow:
        ana = uow.guests.create(restaurant_id, GuestDetails(name="Ana"), NOW)
        bea = uow.guests.create(restaurant_id, GuestDetails(name="Bea"), NOW)
        assert uow.guests.take_contact(ana.id, "phone", "+34600000001", NOW)
        assert not uow.guests.take_contact(bea.id, "phone", "+34600000001", NOW)
        assert uow.guests.take_contact(bea.id, "email", "bea@example.com", NOW)
    with db.reading() as r:
        assert r.guests.belongs_to(restaurant_id, ana.id)
        assert r.guests.belongs_to(restaurant_id, bea.id)
        assert not r.guests.belongs_to(restaurant_id + 1, bea.id)


def test_repositories_are_built_once_per_unit(db: Database) -> None:
    with db.reading() as r:
        assert r.reservations is r.reservations
        assert r.reservations.connection is r.connection
    with db.unit_of_work() as first:
        guests = first.guests
        assert first.guests is guests
    with db.unit_of_work() as second:
        assert second.guests is not guests
    assert db.is_postgres == (db.dialect == "postgresql")


def test_tolerant_reading_without_a_replica_reads_the_primary(
    db: Database, restaurant_id: int
) -> None:
    assert db.primary_position() is None
    with db.tolerant_reading() as r:
        assert r.restaurants.name_and_slug(restaurant_id) == ("UoW", "uow")
    db.ping()
