"""Guests who miss the same day at once wait for one computation of it
(saveit.cache.flights).

The first miss is held inside PostgreSQL: another connection holds a lock on the
bookings' tables, so the miss's read of the day waits there, as a slow read of a
busy day would. Whatever else misses the day meanwhile is then observed in the
database itself: how many reads of the day's bookings were sent, and which ones
are waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from saveit.bootstrap import Container
from saveit.cache import AvailabilityCache
from saveit.cache.availability import MISS

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]

WEDNESDAY = date(2026, 6, 3)  # the clock's today is Monday 2026-06-01
WAIT_S = 10.0


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only: the test holds a miss inside it with a table lock."""
    from tests.conftest import _empty_postgres

    url: str = request.getfixturevalue("pg_server_url")
    _empty_postgres(url)
    return url


def _cache(container: Container) -> AvailabilityCache:
    assert container.availability is not None
    return container.availability


@pytest.fixture
def day_reads(cached: Container) -> Iterator[list[str]]:
    """Every read of a day's bookings the container sends (the miss's one query)."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "reservation_tables" in statement and "end_at >" in statement:
            sent.append(statement)

    event.listen(cached.engine, "before_cursor_execute", seen)
    yield sent
    event.remove(cached.engine, "before_cursor_execute", seen)


@pytest.fixture
def held(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection that holds the bookings' tables: reads of a day wait on it
    until the test commits it."""
    conn = psycopg.connect(db_url)
    conn.execute("LOCK TABLE reservation_tables IN ACCESS EXCLUSIVE MODE")
    yield conn
    conn.rollback()
    conn.close()


def _waiting_reads(db_url: str) -> list[int]:
    """The backends of this database waiting for a lock on a read of a day."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%reservation_tables%'"
        ).fetchall()
    return [int(r[0]) for r in rows]


def _until(what: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.01)


def _read(cache: AvailabilityCache, party: int) -> tuple[bytes, str]:
    return cache.read("demo", WEDNESDAY, party, area=None, staff=False)


def _alone(container: Container, party: int) -> list[datetime]:
    """The day's starts for ``party`` straight from the database."""
    _, slots = container.booking.availability("demo", WEDNESDAY, party)
    return [s.start for s in slots]


def _starts(body: bytes) -> list[datetime]:
    return [datetime.fromisoformat(s["start"]) for s in json.loads(body)["slots"]]


def _first_miss_held(
    pool: ThreadPoolExecutor, cache: AvailabilityCache, db_url: str
) -> Future[tuple[bytes, str]]:
    """A guest's miss of the day for two, started and waiting on the lock in PostgreSQL."""
    first = pool.submit(_read, cache, 2)
    _until(lambda: len(_waiting_reads(db_url)) == 1, "the first miss never reached the day")
    return first


def test_guests_missing_a_day_at_once_wait_for_one_read_of_it(
    cached: Container, db_url: str, day_reads: list[str], held: psycopg.Connection[Any]
) -> None:
    cache = _cache(cached)
    with ThreadPoolExecutor(4) as pool:
        first = _first_miss_held(pool, cache, db_url)
        others: list[Future[tuple[bytes, str]]] = [
            pool.submit(_read, cache, party) for party in (4, 2, 6)
        ]
        _until(lambda: cache.stats.coalesced == 3, "the other misses did not wait for it")
        assert len(_waiting_reads(db_url)) == 1  # nobody else went to the database
        held.commit()
        answers = [first.result(WAIT_S), *(f.result(WAIT_S) for f in others)]
    assert len(day_reads) == 1
    assert [how for _, how in answers] == [MISS] * 4
    for (body, _), party in zip(answers, (2, 4, 2, 6), strict=True):
        assert _starts(body) == _alone(cached, party), party
    assert _read(cache, 4)[1] == "hit"  # and the computation was stored


def test_a_read_that_found_a_newer_generation_reads_the_day_itself(
    cached: Container, db_url: str, day_reads: list[str], held: psycopg.Connection[Any]
) -> None:
    """A change came in after the first miss began: what it computes may predate
    the change, so a read that saw the change's new generation does not take it."""
    cache = _cache(cached)
    restaurant = cached.booking.restaurant("demo")
    with ThreadPoolExecutor(2) as pool:
        first = _first_miss_held(pool, cache, db_url)
        cache.invalidate(restaurant.id, {WEDNESDAY})  # what a booking's commit does
        second = pool.submit(_read, cache, 2)
        _until(lambda: len(_waiting_reads(db_url)) == 2, "the second read did not read the day")
        held.commit()
        first.result(WAIT_S)
        second.result(WAIT_S)
    assert cache.stats.coalesced == 0
    assert len(day_reads) == 2


def test_when_the_first_miss_fails_the_waiting_ones_read_the_day_themselves(
    cached: Container, db_url: str, day_reads: list[str], held: psycopg.Connection[Any]
) -> None:
    cache = _cache(cached)
    with ThreadPoolExecutor(2) as pool:
        first = _first_miss_held(pool, cache, db_url)
        (leader,) = _waiting_reads(db_url)
        second = pool.submit(_read, cache, 4)
        _until(lambda: cache.stats.coalesced == 1, "the second miss did not wait for the first")
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", (leader,))
        with pytest.raises(Exception, match="cancel"):
            first.result(WAIT_S)
        # The one that waited now reads the day on its own (and waits on the lock too).
        _until(lambda: len(_waiting_reads(db_url)) == 1, "the waiting miss did not read the day")
        held.commit()
        body, how = second.result(WAIT_S)
    assert len(day_reads) == 2
    assert how == MISS
    assert _starts(body) == _alone(cached, 4)


def test_no_thread_is_left_waiting_on_a_finished_day(cached: Container) -> None:
    """Threads reading many days at once all answer, and no flight outlives them."""
    cache = _cache(cached)

    def many(party: int) -> int:
        n = 0
        for _ in range(5):
            for offset in range(7):
                day = date(2026, 6, 1 + offset)
                cache.read("demo", day, party, area=None, staff=False)
                n += 1
            cache.invalidate(cached.booking.restaurant("demo").id, {WEDNESDAY})
        return n

    with ThreadPoolExecutor(6) as pool:
        counts = list(pool.map(many, (1, 2, 3, 4, 5, 6)))
    assert counts == [35] * 6
    assert len(cache._flights) == 0  # nothing public tells
