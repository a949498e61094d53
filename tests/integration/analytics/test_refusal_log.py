"""Refused bookings are counted off the request path, many at a time (both backends)."""

from __future__ import annotations

import threading
import time as wall
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from saveit.analytics.refusals import RefusalLog
from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.analytics import RefusalFact
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.schema import booking_refusals
from tests.support import FakeClock

MADRID = ZoneInfo("Europe/Madrid")
STAFF = Actor("staff", "ana", "dashboard")


def refuse(container: Container, clock: FakeClock, source: str, n: int) -> None:
    """A party too large for the demo restaurant: refused by a rule, counted."""
    day = (clock.now + timedelta(days=2)).astimezone(MADRID).date()
    with pytest.raises(errors.DomainError):
        container.booking.create(
            CreateReservation(
                restaurant="demo",
                start=datetime.combine(day, time(21, 0), tzinfo=MADRID),
                party_size=40,
                guest=GuestDetails(name=f"R{n}", phone=f"+34600{n:06d}"),
                source=source,
            ),
            STAFF,
        )


def rows_written(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(booking_refusals)).scalar_one())


def success_rate(container: Container, clock: FakeClock) -> tuple[int, int]:
    today = clock.now.astimezone(MADRID).date()
    rate = container.analytics.report("demo", today, today).total.success_rate
    return rate.numerator, rate.denominator


def test_a_refusal_counts_in_the_report_of_the_process_that_refused_it(
    container: Container, demo: str, clock: FakeClock
) -> None:
    refuse(container, clock, "web", 1)
    assert success_rate(container, clock) == (0, 1)


def test_refusals_from_many_requests_at_once_are_each_counted_once_and_match_a_rebuild(
    container: Container, demo: str, clock: FakeClock
) -> None:
    def guest_requests(worker: int) -> None:
        for n in range(15):
            refuse(container, clock, ("web", "phone", "whatsapp")[n % 3], worker * 100 + n)

    threads = [threading.Thread(target=guest_requests, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.advance(minutes=60 * 24)  # and one more on the next day
    refuse(container, clock, "web", 999)
    container.analytics.refusals.flush()
    assert rows_written(container) == 91
    rid = container.booking.restaurant("demo").id
    with container.db.reading() as r:
        kept = sorted(r.analytics.all_counters(rid), key=repr)
    refused = {(c.day, c.channel): c.value for c in kept if c.detail == "refused"}
    first = (clock.now - timedelta(days=1)).astimezone(MADRID).date()
    assert refused == {
        (first, "web"): 30,
        (first, "phone"): 30,
        (first, "whatsapp"): 30,
        (first + timedelta(days=1), "web"): 1,
    }
    container.analytics.rebuild(rid)
    with container.db.reading() as r:
        assert sorted(r.analytics.all_counters(rid), key=repr) == kept


def test_a_refusal_is_not_written_on_the_request_path_but_within_the_period(
    container: Container, demo: str, clock: FakeClock
) -> None:
    refusals = RefusalLog(container.db, clock=clock, period_s=0.3)
    rid = container.booking.restaurant("demo").id
    fact = RefusalFact(rid, clock.now.date(), clock.now, "web", "SLOT_TAKEN", 2)
    try:
        refusals.add(fact)
        assert rows_written(container) == 0  # the refused request did not wait for it
        deadline = wall.monotonic() + 10.0
        while rows_written(container) == 0 and wall.monotonic() < deadline:
            wall.sleep(0.05)
        assert rows_written(container) == 1  # nobody flushed: the thread wrote it
    finally:
        refusals.close()


def test_refusals_waiting_to_be_written_are_written_when_the_process_closes(
    container: Container, demo: str, clock: FakeClock
) -> None:
    refusals = RefusalLog(container.db, clock=clock, period_s=3600.0)
    rid = container.booking.restaurant("demo").id
    for n in range(3):
        refusals.add(RefusalFact(rid, clock.now.date(), clock.now, "sms", "TOO_SOON", n + 1))
    assert rows_written(container) == 0
    refusals.close()
    assert rows_written(container) == 3
    refusals.add(RefusalFact(rid, clock.now.date(), clock.now, "sms", "TOO_SOON", 2))
    assert rows_written(container) == 4  # after closing, one is written at once
