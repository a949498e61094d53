"""A freed table, several processes offering it and booking it at once: the claim
index decides, and a seat is never held and booked at the same time.

One table; on each of twelve evenings a 21:00 booking was cancelled and two
guests wait for that time. Four processes (spawned, each with its own engine)
meet at a barrier per evening and, at once: three offer the day's seat to the
waitlist (``Waitlist.offer``) and one books 21:00 as a guest (after a random
few milliseconds, so that either may win). Then, again at once, one declines
the offer (if a guest holds one), two offer again and one books; then one
accepts whatever offer is open while two book. Finally all four
expire every hold at once (a clock an hour ahead) while bookings keep coming.

Afterwards, per evening: at most one reservation occupies the table at
21:00 (held, pending, confirmed or checked in), every ``offered`` entry has
exactly one ``held`` seat and every held seat one offered entry, and nothing
raised anything but ``SLOT_TAKEN`` or ``OFFER_GONE``.

``test_without_the_claim_index_holds_and_bookings_collide`` drops
``uq_table_claims_table_cell`` and runs the same race: a seat held for the waitlist
then shares the table with a booking or another hold, on both backends.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text

from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import OCCUPYING_STATUSES
from saveit.store import waitlist as waitlist_store
from saveit.store.database import create_db_engine
from saveit.store.schema import reservation_tables, reservations, waitlist_entries
from saveit.waitlist.service import JoinRequest, Waitlist

pytestmark = pytest.mark.slow

PROCESSES = 4
EVENINGS = 12
TZ = ZoneInfo("Europe/Madrid")
GUEST = Actor("guest", "guest", "web")

ONE_TABLE = {
    "slug": "solo",
    "name": "Mesa Única",
    "timezone": "Europe/Madrid",
    "rules": {
        "slot_minutes": 15,
        "turn_times": [{"max_party": 8, "minutes": 90}],
        "buffer_minutes": 15,
        "min_lead_minutes": 0,
        "max_days_ahead": 365,
        "max_party_size": 8,
        "cancel_cutoff_minutes": 0,
    },
    "services": [{"name": "dinner", "opens": "20:00", "closes": "23:00"}],
    "tables": [{"code": "T1", "area": "indoor", "min_capacity": 1, "max_capacity": 8}],
}


def _evenings() -> list[date]:
    first = datetime.now(TZ).date() + timedelta(days=3)
    return [first + timedelta(days=i) for i in range(EVENINGS)]


def _at_21(day: date) -> datetime:
    return datetime.combine(day, time(21, 0), tzinfo=TZ).astimezone(UTC)


def _prepare(url: str) -> None:
    engine = create_db_engine(url)
    apply_spec(engine, parse_document(ONE_TABLE))
    booking = BookingService(engine, secret=b"race")
    waitlist = Waitlist(booking)
    for n, day in enumerate(_evenings()):
        made = booking.create(
            CreateReservation("solo", _at_21(day), 2, GuestDetails("Ana", f"+3461000{n:04d}")),
            GUEST,
        )
        for who in range(2):
            waitlist.join(
                JoinRequest(
                    "solo", _at_21(day), 2, guest=GuestDetails("W", f"+3462{n:03d}{who:04d}")
                ),
                GUEST,
                "sms",
            )
        booking.cancel(made.reservation.code, GUEST)
    engine.dispose()


def _book(booking: BookingService, day: date, tag: str) -> str:
    try:
        booking.create(CreateReservation("solo", _at_21(day), 2, GuestDetails("Racer", tag)), GUEST)
        return "booked"
    except errors.SlotTaken:
        return "taken"


def _open_offer(waitlist: Waitlist, restaurant_id: int, day: date) -> str | None:
    from saveit.store.database import reading

    with reading(waitlist.engine) as conn:
        offered = waitlist_store.of_day(conn, restaurant_id, day, ["offered"])
    return offered[0].code if offered else None


def _racer(url: str, index: int, barrier: Any, results: Any) -> None:
    engine = create_db_engine(url, pool_size=2)
    booking = BookingService(engine, secret=b"race")
    waitlist = Waitlist(booking)
    rid = booking.restaurant("solo").id
    done: list[str] = []

    def guarded(step: str, action: Any) -> None:
        try:
            done.append(f"{step}:{action()}")
        except errors.OfferGone:
            done.append(f"{step}:gone")
        except Exception as exc:  # reported to the parent, which fails the test
            done.append(f"error:{step}:{exc!r}")

    jitter = random.Random(index)

    def book(day: date, tag: str) -> str:
        time_module.sleep(jitter.uniform(0, 0.03))  # holds and bookings win in turns
        return _book(booking, day, tag)

    def snapshot(day: date) -> None:
        """After each step (the others wait at the next barrier): what occupies 21:00."""
        if index == 0:
            found = _occupying(engine, day)
            via_waitlist = any("waitlist" in r for r in found)
            done.append(f"snapshot:{len(found)}:{'waitlist' if via_waitlist else '-'}")

    for n, day in enumerate(_evenings()):
        phone = f"+3463{index}{n:03d}"
        barrier.wait(timeout=60)
        if index != 2:  # freed: three offer it to the two waiting guests, one books
            guarded("offer", lambda day=day: len(waitlist.offer(rid, day)))
        else:
            guarded("book", lambda day=day, p=phone: book(day, p + "100"))
        barrier.wait(timeout=60)
        snapshot(day)
        barrier.wait(timeout=60)
        code = _open_offer(waitlist, rid, day) if index == 0 else None
        if index == 0:
            guarded("decline", lambda c=code: waitlist.decline(c, GUEST).status if c else "-")
            guarded("offer", lambda day=day: len(waitlist.offer(rid, day)))
        elif index == 2:
            guarded("book", lambda day=day, p=phone: book(day, p + "200"))
        else:  # declined: offered on to the next guest
            guarded("offer", lambda day=day: len(waitlist.offer(rid, day)))
        barrier.wait(timeout=60)
        snapshot(day)
        barrier.wait(timeout=60)
        code = _open_offer(waitlist, rid, day) if index == 1 else None
        if index == 1:
            guarded("accept", lambda c=code: waitlist.accept(c, GUEST).status if c else "-")
        elif index >= 2:
            guarded("book", lambda day=day, p=phone: book(day, p + "300"))
        barrier.wait(timeout=60)
        snapshot(day)
    barrier.wait(timeout=60)
    later = Waitlist(booking, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    if index < 2:
        guarded("sweep", lambda: later.sweep()["expired"])
    else:
        for n, day in enumerate(_evenings()):
            guarded("book", lambda day=day, n=n: _book(booking, day, f"+3464{index}{n:03d}000"))
    engine.dispose()
    results.put(done)


def _race(url: str) -> list[str]:
    _prepare(url)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_racer, args=(url, i, barrier, results)) for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[str] = []
    for _ in workers:
        outcomes.extend(results.get(timeout=240))
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return outcomes


def _occupying(engine: Engine, day: date) -> list[str]:
    """The reservations that occupy the table at 21:00 that evening."""
    at = _at_21(day)
    occupying = [s.value for s in OCCUPYING_STATUSES]
    with engine.connect() as conn:
        rows = conn.execute(
            select(reservations.c.code, reservations.c.status, reservations.c.created_by)
            .join(reservation_tables, reservation_tables.c.reservation_id == reservations.c.id)
            .where(
                reservations.c.status.in_(occupying),
                reservations.c.start_at < at + timedelta(minutes=105),
                reservations.c.end_at > at - timedelta(minutes=15),
            )
        ).all()
    return [f"{code}:{status}:{by}" for code, status, by in rows]


def _occupying_at_21(url: str) -> dict[date, list[str]]:
    engine = create_db_engine(url)
    found = {day: _occupying(engine, day) for day in _evenings()}
    engine.dispose()
    return found


def _holds_match_offers(url: str) -> tuple[int, int, int]:
    """(offered entries, held rows, offered entries whose hold is not held)."""
    engine = create_db_engine(url)
    with engine.connect() as conn:
        offered = (
            conn.execute(
                select(waitlist_entries.c.hold_id).where(waitlist_entries.c.status == "offered")
            )
            .scalars()
            .all()
        )
        held = (
            conn.execute(select(reservations.c.id).where(reservations.c.status == "held"))
            .scalars()
            .all()
        )
    engine.dispose()
    return len(offered), len(held), len(set(offered) ^ set(held))


def test_a_freed_table_is_held_for_one_guest_or_booked_never_both(db_url: str) -> None:
    outcomes = _race(db_url)

    assert [o for o in outcomes if o.startswith("error")] == []
    per_evening = _occupying_at_21(db_url)
    assert all(len(found) <= 1 for found in per_evening.values()), per_evening
    snapshots = [o for o in outcomes if o.startswith("snapshot:")]
    assert len(snapshots) == 3 * EVENINGS
    assert all(o.split(":")[1] in {"0", "1"} for o in snapshots), snapshots
    assert sum(len(found) for found in per_evening.values()) >= EVENINGS // 2
    offered, held, mismatched = _holds_match_offers(db_url)
    assert mismatched == 0
    assert offered == held
    assert any(o == "offer:1" for o in outcomes)  # the waitlist won some evenings …
    # Bookings usually win other evenings too, but on a busy machine the offering
    # processes can win them all: which side wins is timing, what must hold is above.
    assert any(o == "decline:declined" for o in outcomes)
    print(
        f"holds made {outcomes.count('offer:1')}, bookings {outcomes.count('book:booked')}, "
        f"accepted {outcomes.count('accept:confirmed')}, open holds {held}"
    )


def test_without_the_claim_index_holds_and_bookings_collide(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX uq_table_claims_table_cell"))
    engine.dispose()
    try:
        outcomes = _race(db_url)
        assert [o for o in outcomes if o.startswith("error")] == []
        doubled = [o for o in outcomes if o.startswith("snapshot:") and o.split(":")[1] != "1"]
        doubled = [o for o in doubled if o.split(":")[1] != "0"]
        print(f"without the index: {len(doubled)} steps left the seat taken twice: {doubled}")
        # A seat held for the waitlist (held, or accepted since) shared the table.
        assert "waitlist" in {o.split(":")[2] for o in doubled}
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
