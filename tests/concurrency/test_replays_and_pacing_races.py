"""Two more races the database must settle, from several OS processes at once.

* **Idempotency-Key**: a guest's app retries a booking on a flaky network and
  the retries land on different API processes at the same moment. However
  many arrive together, one reservation exists per key and every answer names
  it. (Whether the key was new is read from ``RETURNING``: an INSERT's rowcount
  is not reliable across drivers — psycopg gives -1, and with the rowcount put
  back this test fails on SQLite, every racer told "still in progress".)
* **Pacing**: with a cap on covers starting per slot, racing bookings at one
  start never seat more guests than the cap, although tables are plenty.
  (Without the cap's condition on the counter upsert, 20 parties of two sit
  down where 5 may.)
"""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.database import create_db_engine
from saveit.store.schema import reservations

pytestmark = pytest.mark.slow

PROCESSES = 4
TZ = ZoneInfo("Europe/Madrid")
CAP = 10

PLACE = {
    "slug": "busy",
    "name": "Casa Llena",
    "timezone": "Europe/Madrid",
    "rules": {
        "slot_minutes": 15,
        "turn_times": [{"max_party": 8, "minutes": 90}],
        "buffer_minutes": 0,
        "min_lead_minutes": 0,
        "max_days_ahead": 365,
        "max_party_size": 8,
        "pacing_covers_per_slot": CAP,
    },
    "services": [{"name": "dinner", "opens": "19:00", "closes": "23:30"}],
    "tables": [
        {"code": f"T{i}", "area": "indoor", "min_capacity": 1, "max_capacity": 4}
        for i in range(1, 21)
    ],
}


def _start(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(TZ).date() + timedelta(days=5)
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


def _racer(url: str, jobs: list[tuple[str, str, str]], barrier: Any, results: Any) -> None:
    """jobs: (start ISO, guest phone, idempotency key or "")."""
    engine = create_db_engine(url, pool_size=2)
    booking = BookingService(engine, secret=b"race")
    booking.restaurant("busy")
    outcomes: list[tuple[str, str]] = []
    barrier.wait(timeout=60)
    for start, phone, key in jobs:
        try:
            made = booking.create(
                CreateReservation(
                    "busy",
                    datetime.fromisoformat(start),
                    2,
                    GuestDetails(name="Racer", phone=phone),
                    idempotency_key=key or None,
                ),
                Actor("guest", "web", "webchat"),
            )
            outcomes.append((key, made.reservation.code))
        except errors.SlotTaken:
            outcomes.append((key, "taken"))
        except Exception as exc:  # reported to the parent, which fails the test
            outcomes.append((key, f"error {exc!r}"))
    engine.dispose()
    results.put(outcomes)


def _race(url: str, per_process: list[list[tuple[str, str, str]]]) -> list[tuple[str, str]]:
    engine = create_db_engine(url)
    apply_spec(engine, parse_document(PLACE))
    engine.dispose()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(per_process))
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_racer, args=(url, jobs, barrier, results)) for jobs in per_process
    ]
    for worker in workers:
        worker.start()
    outcomes: list[tuple[str, str]] = []
    for _ in workers:
        outcomes.extend(results.get(timeout=240))
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return outcomes


def _reservation_count(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(reservations)).scalar_one()
    engine.dispose()
    return int(found)


def test_one_key_books_once_however_many_processes_replay_it(db_url: str) -> None:
    keys = [f"retry-{n}" for n in range(15)]
    # Every process sends every key, each with its own body: the same request.
    jobs = [
        (_start(19 + n // 4, 15 * (n % 4)).isoformat(), f"+3461000{n:04d}", key)
        for n, key in enumerate(keys)
    ]
    outcomes = _race(db_url, [jobs] * PROCESSES)

    assert [o for o in outcomes if o[1].startswith("error")] == []
    assert len(outcomes) == PROCESSES * len(keys)
    for key in keys:
        answers = {code for k, code in outcomes if k == key}
        assert len(answers) == 1, f"{key} answered with {answers}"
        assert answers != {"taken"}
    assert _reservation_count(db_url) == len(keys)


def test_racing_bookings_never_pass_the_cover_cap_of_a_slot(db_url: str) -> None:
    start = _start(21).isoformat()
    per_process = [
        [(start, f"+3462{p:02d}{n:05d}", "") for n in range(8)] for p in range(PROCESSES)
    ]
    outcomes = _race(db_url, per_process)

    assert [o for o in outcomes if o[1].startswith("error")] == []
    made = [code for _, code in outcomes if code != "taken"]
    assert len(made) == CAP // 2  # parties of two: exactly the cap is seated, no more
    assert _reservation_count(db_url) == CAP // 2
