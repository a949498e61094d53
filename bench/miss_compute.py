"""What an availability miss computes, on its own: a week of the demo restaurant's
days, every party size the online limit allows, free starts and rendered entries.

Run: ``.venv/bin/python bench/miss_compute.py [--rounds 300] [--booked 0]``.

No database, no Redis, no HTTP: the pure part of a cold read
(``AvailabilityCache._compute_days``), the share of a miss that grows with the
size of the restaurant's grid and the number of party sizes. ``--booked N``
puts N bookings on each day first (random starts and tables, a fixed seed), so
the figures cover an empty week and a busy one. Run it before and after a
change in one sitting; it prints milliseconds per week.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from saveit.admin.setup import parse_document
from saveit.cache.entry import DayRenderer
from saveit.domain.availability import Occupancy, bookable_starts_by_size, end_of
from saveit.domain.model import Booked, Restaurant
from saveit.domain.schedule import grid_starts

DEMO = Path(__file__).resolve().parents[1] / "src" / "saveit" / "demo.yaml"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # a Monday morning in Madrid


def demo_restaurant() -> Restaurant:
    return parse_document(yaml.safe_load(DEMO.read_text())).to_domain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--booked", type=int, default=0, help="bookings per day")
    args = parser.parse_args()
    restaurant = demo_restaurant()
    days = [NOW.date() + timedelta(days=i) for i in range(7)]
    sizes = list(range(1, min(restaurant.rules.max_party_size, 12) + 1))
    rng = random.Random(7)
    booked: list[Booked] = []
    for day in days:
        for _ in range(args.booked):
            start = rng.choice(grid_starts(restaurant, day))
            table = rng.choice(restaurant.tables)
            party = rng.randint(1, table.max_capacity)
            booked.append(Booked((table.id,), start, end_of(restaurant, start, party), 15, party))
    occupancy = Occupancy(booked)

    def week(today: date) -> int:
        entries = 0
        for day in days:
            by_size = bookable_starts_by_size(restaurant, day, sizes, NOW, occupancy)
            renderer = DayRenderer(restaurant, day, staff=False, at=0.0, today=today)
            entries += len([renderer.entry(s, by_size[s]) for s in by_size])
        return entries

    entries = week(days[0])  # warm the per-configuration caches, as a running process has
    started = time.perf_counter()
    for _ in range(args.rounds):
        week(days[0])
    per_week = (time.perf_counter() - started) / args.rounds * 1000
    print(
        f"{restaurant.slug}: 7 days x {len(sizes)} party sizes ({entries} entries), "
        f"{args.booked} bookings a day: {per_week:.2f} ms per week"
    )


if __name__ == "__main__":
    main()
