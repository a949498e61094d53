"""Many OS processes race for one table: the database constraint decides.

Four processes (spawned, each with its own engine and connection pool) wait on
a barrier and then fire 240 create attempts at a restaurant with a single
table, at overlapping times with different starts and durations (party sizes
map to 60, 90 or 120 minutes, plus a 15-minute buffer). Every attempt must end
as a booking or as ``SLOT_TAKEN``; the bookings must not overlap, by the audit
query and by an independent check over the rows; and every refused attempt
must really collide with a booking that was made (nothing refused that fit).

Proof that the test has teeth (pretix's rule: show the race before showing it
is gone): ``test_without_the_claim_index_the_same_race_double_books`` drops
``uq_table_claims_table_cell`` and runs the same race; overlapping bookings
then appear on both backends. With the index in place, none do.
"""

from __future__ import annotations

import multiprocessing as mp
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.database import create_db_engine
from saveit.store.reservations import count_overlaps
from saveit.store.schema import reservation_tables, reservations

pytestmark = pytest.mark.slow

PROCESSES = 4
ATTEMPTS_PER_PROCESS = 60
TZ = ZoneInfo("Europe/Madrid")
BUFFER = timedelta(minutes=15)

ONE_TABLE = {
    "slug": "solo",
    "name": "Mesa Única",
    "timezone": "Europe/Madrid",
    "rules": {
        "slot_minutes": 15,
        "turn_times": [
            {"max_party": 2, "minutes": 60},
            {"max_party": 4, "minutes": 90},
            {"max_party": 8, "minutes": 120},
        ],
        "buffer_minutes": 15,
        "min_lead_minutes": 0,
        "max_days_ahead": 365,
        "max_party_size": 8,
    },
    "services": [{"name": "all day", "opens": "12:00", "closes": "23:00"}],
    "tables": [{"code": "T1", "area": "indoor", "min_capacity": 1, "max_capacity": 8}],
}


@dataclass(frozen=True)
class Attempt:
    start: datetime
    party_size: int

    @property
    def minutes(self) -> int:
        return 60 if self.party_size <= 2 else 90 if self.party_size <= 4 else 120


def _attempts(day: date, seed: int) -> list[Attempt]:
    rng = random.Random(seed)
    starts = [
        datetime.combine(day, time(12, 0), tzinfo=TZ) + timedelta(minutes=15 * i) for i in range(44)
    ]
    # A third of the attempts aim at a few hot evening starts, the rest anywhere.
    hot = starts[30:34]
    picks = []
    for _ in range(PROCESSES * ATTEMPTS_PER_PROCESS):
        start = rng.choice(hot) if rng.random() < 0.33 else rng.choice(starts)
        picks.append(Attempt(start.astimezone(UTC), rng.randint(1, 6)))
    return picks


def _racer(url: str, attempts: list[Attempt], barrier: Any, results: Any, index: int) -> None:
    engine = create_db_engine(url, pool_size=2)
    booking = BookingService(engine, secret=b"race")
    guest = Actor("guest", f"racer-{index}", "web")
    outcomes: list[tuple[str, str, int, str]] = []
    booking.restaurant("solo")  # warm the configuration cache before the start line
    barrier.wait(timeout=60)
    for n, attempt in enumerate(attempts):
        try:
            made = booking.create(
                CreateReservation(
                    "solo",
                    attempt.start,
                    attempt.party_size,
                    GuestDetails(name=f"Racer {index}-{n}", phone=f"+346000{index:02d}{n:03d}"),
                ),
                guest,
            )
            outcomes.append(
                ("ok", attempt.start.isoformat(), attempt.party_size, made.reservation.code)
            )
        except errors.SlotTaken:
            outcomes.append(("taken", attempt.start.isoformat(), attempt.party_size, ""))
        except Exception as exc:  # reported to the parent, which fails the test
            outcomes.append(("error", attempt.start.isoformat(), attempt.party_size, repr(exc)))
    engine.dispose()
    results.put(outcomes)


def _race(url: str, seed: int) -> list[tuple[str, str, int, str]]:
    engine = create_db_engine(url)
    apply_spec(engine, parse_document(ONE_TABLE))
    engine.dispose()
    day = datetime.now(TZ).date() + timedelta(days=7)
    attempts = _attempts(day, seed)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_racer,
            args=(url, attempts[i::PROCESSES], barrier, results, i),
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[tuple[str, str, int, str]] = []
    for _ in workers:
        outcomes.extend(results.get(timeout=240))
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return outcomes


def _booked_intervals(url: str) -> list[tuple[str, datetime, datetime]]:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(reservations.c.code, reservations.c.start_at, reservations.c.end_at)
            .join(reservation_tables, reservation_tables.c.reservation_id == reservations.c.id)
            .where(reservations.c.status == "confirmed")
        ).all()
    engine.dispose()
    return [(r.code, _utc(r.start_at), _utc(r.end_at) + BUFFER) for r in rows]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _overlapping_pairs(intervals: list[tuple[str, datetime, datetime]]) -> int:
    ordered = sorted(intervals, key=lambda i: i[1])
    return sum(
        1
        for i, (_, start, stop) in enumerate(ordered)
        for _, other_start, _ in ordered[i + 1 :]
        if other_start < stop
    )


def _overlap_audit(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        found = count_overlaps(conn)
    engine.dispose()
    return found


def test_racing_processes_never_double_book_one_table(db_url: str) -> None:
    outcomes = _race(db_url, seed=20261128)

    assert len(outcomes) == PROCESSES * ATTEMPTS_PER_PROCESS
    assert [o for o in outcomes if o[0] == "error"] == []
    made = {o[3] for o in outcomes if o[0] == "ok"}
    assert len(made) > 3  # the table is shared out over the day, not given once

    booked = _booked_intervals(db_url)
    assert {code for code, _, _ in booked} == made  # every 201 exists, nothing else does
    assert _overlap_audit(db_url) == 0
    assert _overlapping_pairs(booked) == 0
    print(f"with the index: {len(made)} bookings, {len(outcomes) - len(made)} SLOT_TAKEN")

    # Nothing was refused that would have fitted: every refusal collides with a booking.
    for kind, start_iso, party, _ in outcomes:
        if kind != "taken":
            continue
        start = datetime.fromisoformat(start_iso)
        stop = start + timedelta(minutes=Attempt(start, party).minutes) + BUFFER
        assert any(b_start < stop and start < b_stop for _, b_start, b_stop in booked), (
            f"{start_iso} for {party} was refused but collides with no booking"
        )


def test_without_the_claim_index_the_same_race_double_books(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX uq_table_claims_table_cell"))
    engine.dispose()
    try:
        outcomes = _race(db_url, seed=20261128)
        assert [o for o in outcomes if o[0] == "error"] == []
        overlaps = _overlap_audit(db_url)
        print(f"without the index: {len(_booked_intervals(db_url))} bookings, {overlaps} overlaps")
        assert overlaps > 0
        assert _overlapping_pairs(_booked_intervals(db_url)) > 0
    finally:
        engine = create_db_engine(db_url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM table_claims"))
            conn.execute(
                text(
                    "CREATE UNIQUE INDEX uq_table_claims_table_cell "
                    "ON table_claims (table_id, cell)"
                )
            )
        engine.dispose()
