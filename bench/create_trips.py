"""A guest's create, as one statement on its own or as a transaction of four round trips.

Run: ``.venv/bin/python bench/create_trips.py [--creates 300] [--delay-ms 0,0.25,1]
[--database-url URL]``.

On PostgreSQL a create for a guest named by phone or email is its read and one
statement in autocommit, the guest's row included (``saveit.store.booked_at_once``).
A guest named only by name still takes the transaction: ``BEGIN``, the guest's row,
the booking's statement (``saveit.store.booked``), ``COMMIT``, the shape every
guest's create had before. This bench times ``BookingService.create`` both ways in
one process, alternated, with nothing else running: wall time and the process's CPU
time per create, medians. Each create is a new guest at a free start.

``--delay-ms`` puts the loopback relay of ``group_commit.py`` between the process
and PostgreSQL, holding every chunk that long each way, as a network between the API
and its database would (0: straight to the server). It creates and drops a
throwaway database. No target: it shows what the round trips cost a create.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from booking import bench_database, machine_header, restaurant_spec
from group_commit import reached, round_trip
from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade

WARMUP = 20
DAYS = 80  # creates spread over the booking horizon (90 days) so starts stay free
SLOTS = (22 - 10) * 4  # 10:00 to 22:00 every quarter hour, room for the 90 min turn
GUEST = Actor("guest", "bench", "web")


def timed_creates(
    booking: BookingService, ways: dict[str, list[tuple[float, float]]], creates: int
) -> int:
    """Alternate the two ways, ``creates`` each; (wall s, CPU s) per create. Refusals
    (a start that filled up) are counted, not timed."""
    rng = random.Random(time.time_ns())
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    refused = 0
    for n in range(creates * len(ways)):
        way = list(ways)[n % len(ways)]
        day, slot = rng.randint(2, DAYS), rng.randrange(SLOTS)
        start = today + timedelta(days=day, minutes=600 + 15 * slot)
        serial = time.time_ns()
        guest = (
            GuestDetails(name="Bench", phone=f"+3466{serial % 10**7:07d}")
            if way == "one statement"
            else GuestDetails(name=f"Bench {serial}")
        )
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            booking.create(CreateReservation("bench", start, rng.randint(1, 6), guest), GUEST)
        except errors.SlotTaken:
            refused += 1
            continue
        ways[way].append((time.perf_counter() - wall, time.process_time() - cpu))
    return refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creates", type=int, default=300, help="per way and relay setting")
    parser.add_argument("--delay-ms", default="0,0.25,1")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    delays = [float(d) for d in args.delay_ms.split(",")]
    print("SaveIt create: one statement on its own, or a transaction of four round trips")
    print(machine_header())
    print(f"creates={args.creates} per way (+{WARMUP} warm-up each), medians; alternated")
    with bench_database(args.database_url) as url:
        setup = create_db_engine(url)
        upgrade(setup)
        apply_spec(setup, parse_document(restaurant_spec("bench")))
        setup.dispose()
        for delay in delays:
            with reached(url, delay) as (target, where):
                engine = create_db_engine(target, pool_size=2)
                booking = BookingService(engine, secret=b"bench")
                print(f"\n{where}: {round_trip(engine)}")
                ways: dict[str, list[tuple[float, float]]] = {
                    "one statement": [],
                    "transaction": [],
                }
                timed_creates(booking, ways, WARMUP)
                ways = {way: [] for way in ways}
                refused = timed_creates(booking, ways, args.creates)
                for way, taken in ways.items():
                    wall = statistics.median(t[0] for t in taken) * 1000
                    cpu = statistics.median(t[1] for t in taken) * 1000
                    print(f"  {way:14s} {wall:6.2f} ms a create, {cpu:5.2f} ms of CPU")
                once, txn = (statistics.median(t[0] for t in ways[w]) for w in ways)
                print(f"  one statement: {1 - once / txn:.0%} less time ({refused} refused)")
                engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
