"""Analytics queries on a year of a busy group: every report for 30 and 365 days.

Builds, in a fresh PostgreSQL database, 20 restaurants (the demo's services and
tables) with a year each: 70 bookings a day (over 500,000 in all, with
cancellations, no-shows, walk-ins), five chat messages per booking made by a guest
(over 2,000,000), refused attempts, handoffs and surveys — all with
``generate_series`` in a few ``INSERT … SELECT`` statements. Then the per-day
counters are rebuilt from the raw rows (as ``saveit report`` and the consumer
keep them), and every analytics query (group total, day, week, service,
channel; JSON and CSV) is run for a 30-day and a 365-day range on each
restaurant. Prints the build times, the p50/p95 per query and one report's
figures; the target is p95 < 200 ms.

    .venv/bin/python bench/analytics.py [--small] [--restaurants N] [--days D] [--database-url URL]

``--small``: 2 restaurants × 60 days, a quick check. A query reads one
restaurant's counters, so ``--restaurants 1`` times the same queries on a build
twenty times quicker (the table is smaller, its index a level shallower at most).
The database is dropped on exit.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support's demo
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.support import demo_document

from saveit.admin.setup import apply_spec, parse_document
from saveit.analytics.export import to_csv
from saveit.analytics.report import Group
from saveit.analytics.service import Analytics
from saveit.domain.model import Restaurant
from saveit.store import restaurants as restaurant_store
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade

PG_BASE = os.environ.get("SAVEIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LAST_DAY = date(2026, 11, 30)
PER_DAY = 70
GUESTS = 4000
GROUPS: tuple[Group, ...] = ("total", "day", "week", "service", "channel")
TARGET_MS = 200.0
TABLES = [  # enough for 70 bookings a day without overfilling the services
    {"code": f"T{n}", "area": "indoor", "min_capacity": 1, "max_capacity": 6} for n in range(1, 41)
]


@contextmanager
def bench_database(base_url: str) -> Iterator[str]:
    """A fresh database for this run, dropped afterwards whatever happens."""
    base = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"saveit_bench_analytics_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


GENERATE = [
    (
        "guests",
        """
        INSERT INTO guests (restaurant_id, name, phone, language, notes, allergies, tags,
                            visit_count, no_show_count, created_at, updated_at)
        SELECT r.id, 'Guest ' || g, '+346' || lpad((r.id * 100000 + g)::text, 8, '0'),
               CASE WHEN g % 3 = 0 THEN 'en' ELSE 'es' END, '', '[]', '[]', 0, 0,
               :t0, :t0
        FROM restaurants r, generate_series(1, :guests) g
        """,
    ),
    (
        "reservations",
        """
        INSERT INTO reservations (code, restaurant_id, guest_id, party_size, start_at, end_at,
            buffer_minutes, status, source, notes, created_by, created_at, updated_at, version)
        SELECT 'B' || to_char(r.id, 'FM00') || to_char(d, 'FM000') || to_char(n, 'FM000'),
               r.id,
               CASE WHEN src = 'walk_in' THEN NULL ELSE g0.first + (d * 131 + n * 17) % :guests END,
               1 + (d + n) % 6, s.start,
               s.start + CASE WHEN 1 + (d + n) % 6 <= 2 THEN interval '90 minutes'
                              ELSE interval '120 minutes' END,
               15,
               CASE WHEN (d * 3 + n) % 20 = 0 THEN 'cancelled'
                    WHEN (d * 3 + n) % 20 = 1 THEN 'no_show'
                    WHEN (d * 3 + n) % 20 = 2 THEN 'checked_in'
                    ELSE 'completed' END,
               src, '',
               CASE WHEN src IN ('phone', 'walk_in') THEN 'staff:bench' ELSE 'guest:bench' END,
               s.start - l.lead, s.start - l.lead / 2, 1
        FROM restaurants r
        JOIN (SELECT restaurant_id, min(id) AS first FROM guests GROUP BY restaurant_id) g0
          ON g0.restaurant_id = r.id,
             generate_series(0, :days - 1) d, generate_series(0, :per_day - 1) n,
        LATERAL (SELECT (ARRAY['web', 'whatsapp', 'phone', 'sms', 'instagram', 'webchat',
                               'walk_in'])[1 + (d * 7 + n) % 7] AS src) c,
        LATERAL (SELECT ((:first_day + d) + time '13:00' + (n % 2) * interval '7 hours'
                         + ((n / 2) % 12) * interval '15 minutes')
                        AT TIME ZONE 'Europe/Madrid' AS start) s,
        LATERAL (SELECT CASE WHEN src = 'walk_in' THEN interval '0'
                             ELSE interval '1 hour' * ((d * 37 + n * 11) % 400) END AS lead) l
        """,
    ),
    (
        "reservation_tables",
        """
        INSERT INTO reservation_tables (reservation_id, table_id)
        SELECT res.id, t.ids[1 + res.id % 40]
        FROM reservations res
        JOIN (SELECT restaurant_id, array_agg(id ORDER BY id) AS ids
              FROM dining_tables GROUP BY restaurant_id) t ON t.restaurant_id = res.restaurant_id
        """,
    ),
    (
        "conversations",
        """
        INSERT INTO conversations (restaurant_id, guest_id, language, state, offered, handoff,
                                   version, last_message_at, created_at)
        SELECT restaurant_id, id, language, '{}', '[]', false, 1, :t0, :t0 FROM guests
        """,
    ),
    (
        "channel_messages",
        """
        INSERT INTO channel_messages (public_id, restaurant_id, direction, channel,
            provider_message_id, address, conversation_id, status, text, body, raw, author,
            attempts, created_at, updated_at, processed_at, error_code)
        SELECT 'm' || res.id || '-' || k, res.restaurant_id,
               CASE WHEN k IN (0, 2) THEN 'in' ELSE 'out' END,
               CASE WHEN res.source IN ('whatsapp', 'sms', 'instagram') THEN res.source
                    ELSE 'webchat' END,
               'p' || res.id || '-' || k, 'guest', c.id,
               CASE WHEN k IN (0, 2) THEN 'received' ELSE 'sent' END, '', '{}', '',
               CASE WHEN k IN (0, 2) THEN 'guest' ELSE 'bot' END, 0, a.at, a.at,
               a.at + CASE WHEN k IN (0, 2) THEN interval '0'
                           ELSE interval '1 millisecond' * (400 + res.id % 4000) END,
               CASE WHEN k = 2 AND res.id % 9 = 0 THEN 'NOT_UNDERSTOOD' END
        FROM reservations res
        JOIN conversations c ON c.guest_id = res.guest_id,
             generate_series(0, 4) k,
        LATERAL (SELECT res.created_at - interval '10 minutes' + (k / 2) * interval '1 minute'
                        + (k % 2 + k / 4) * interval '1 second' AS at) a
        ORDER BY res.id, k
        """,
    ),
    (
        "booking_refusals",
        """
        INSERT INTO booking_refusals (restaurant_id, at, channel, code, party_size)
        SELECT r.id, ((:first_day + d) + time '11:00' + n * interval '37 minutes')
                     AT TIME ZONE 'Europe/Madrid',
               (ARRAY['web', 'whatsapp', 'sms'])[1 + n % 3], 'SLOT_TAKEN', 2 + n % 4
        FROM restaurants r, generate_series(0, :days - 1) d, generate_series(0, 2) n
        """,
    ),
    (
        "analytics_handoffs",
        """
        INSERT INTO analytics_handoffs (event_id, restaurant_id, conversation_id, at, by)
        SELECT 'h' || c.id, c.restaurant_id, c.id,
               (:first_day + (c.id % :days)::int) + time '18:00', 'bot'
        FROM conversations c WHERE c.id % 41 = 0  -- odd: ids may alternate restaurants
        """,
    ),
    (
        "guest_surveys",
        """
        INSERT INTO guest_surveys (restaurant_id, reservation_id, guest_id, day, service,
            channel, language, status, rating, comment, created_at, answered_at)
        SELECT res.restaurant_id, res.id, res.guest_id,
               (res.start_at AT TIME ZONE 'Europe/Madrid')::date,
               CASE WHEN extract(hour FROM res.start_at AT TIME ZONE 'Europe/Madrid') < 17
                    THEN 'lunch' ELSE 'dinner' END,
               'sms', 'es',
               CASE WHEN res.id % 3 = 0 THEN 'sent' ELSE 'answered' END,
               CASE WHEN res.id % 3 = 0 THEN NULL ELSE 5 - (res.id * 7 % 11) / 4 END,
               CASE WHEN res.id % 3 <> 0 AND res.id % 10 = 1 THEN 'Muy bien' END,
               res.end_at,
               CASE WHEN res.id % 3 = 0 THEN NULL ELSE res.end_at + interval '1 hour' END
        FROM reservations res
        WHERE res.status = 'completed' AND res.guest_id IS NOT NULL AND res.id % 2 = 0
        """,
    ),
]


def build(url: str, restaurants: int, days: int) -> dict[str, float]:
    engine = create_db_engine(url)
    spent: dict[str, float] = {}
    try:
        started = time.perf_counter()
        upgrade(engine)
        for n in range(1, restaurants + 1):
            apply_spec(
                engine,
                parse_document(demo_document(slug=f"r{n:02d}", name=f"R {n}", tables=TABLES)),
            )
        spent["schema and restaurants"] = time.perf_counter() - started
        first = LAST_DAY - timedelta(days=days - 1)
        params = {
            "t0": f"{first.isoformat()}T00:00:00+00:00",
            "guests": GUESTS,
            "days": days,
            "per_day": PER_DAY,
            "first_day": first,
        }
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            for name, statement in GENERATE:
                began = time.perf_counter()
                conn.execute(text(statement), params)
                spent[name] = time.perf_counter() - began
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            began = time.perf_counter()
            conn.execute(text("VACUUM ANALYZE"))
            spent["vacuum analyze"] = time.perf_counter() - began
    finally:
        engine.dispose()
    return spent


def count(url: str, table: str) -> int:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = math.ceil(share * len(ordered))  # nearest rank
    return ordered[min(len(ordered), max(1, rank)) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="2 restaurants x 60 days")
    parser.add_argument("--database-url", default=PG_BASE)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each query per restaurant")
    parser.add_argument(
        "--restaurants", type=int, help="restaurants (default 20; a query reads one of them)"
    )
    parser.add_argument("--days", type=int, help="days of history (default 365)")
    args = parser.parse_args()
    restaurants, days = (2, 60) if args.small else (20, 365)
    restaurants, days = args.restaurants or restaurants, args.days or days
    with bench_database(args.database_url) as url:
        spent = build(url, restaurants, days)
        sizes = {t: count(url, t) for t in ("reservations", "channel_messages", "guest_surveys")}
        print(
            f"data: {restaurants} restaurants x {days} days: "
            + ", ".join(f"{n:,} {t}" for t, n in sizes.items())
        )
        for name, seconds in spent.items():
            print(f"  built {name:<24} {seconds:8.1f} s")
        engine = create_db_engine(url, pool_size=4)
        known: dict[str, Restaurant] = {}  # the app reads them through the engine's cache

        def restaurant_of(slug: str) -> Restaurant:
            if slug not in known:
                with engine.connect() as conn:
                    known[slug] = restaurant_store.load(conn, restaurant_store.id_of(conn, slug))
            return known[slug]

        analytics = Analytics(engine, restaurants=restaurant_of)
        began = time.perf_counter()
        for rid in range(1, restaurants + 1):
            analytics.rebuild(
                rid, LAST_DAY - timedelta(days=days + 1), LAST_DAY + timedelta(days=1)
            )
        print(f"  counters rebuilt from the raw rows  {time.perf_counter() - began:8.1f} s")
        with engine.connect() as conn:  # as autovacuum would, soon after
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM ANALYZE analytics_days"))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM analytics_days")).scalar_one()
        print(f"  analytics_days rows: {rows:,}")
        failed = False
        print(
            f"\n{'range':>6} {'group':<8} {'format':<6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        )
        for span in (30, 365):
            first = LAST_DAY - timedelta(days=min(span, days) - 1)
            for group in GROUPS:
                for fmt in ("json", "csv"):
                    timings: list[float] = []
                    for _ in range(args.rounds):
                        for n in range(1, restaurants + 1):
                            began = time.perf_counter()
                            found = analytics.report(f"r{n:02d}", first, LAST_DAY, group)
                            body = (
                                to_csv(found)
                                if fmt == "csv"
                                else found.model_dump_json(by_alias=True)
                            )
                            assert body
                            timings.append((time.perf_counter() - began) * 1000)
                    p95 = percentile(timings, 0.95)
                    failed |= p95 >= TARGET_MS
                    print(
                        f"{span:>6} {group:<8} {fmt:<6} {statistics.median(timings):8.1f} "
                        f"{p95:8.1f} {max(timings):8.1f}{'  MISSES' if p95 >= TARGET_MS else ''}"
                    )
        sample = analytics.report("r01", LAST_DAY - timedelta(days=min(365, days) - 1), LAST_DAY)
        t = sample.total
        print(f"\nr01, {sample.from_} – {sample.to}:")
        print(
            f"  bookings {t.bookings:,}, covers {t.covers:,}; by channel "
            + ", ".join(f"{k} {v.bookings:,}" for k, v in t.by_channel.items())
        )
        print(
            f"  success rate {t.success_rate.value}, conversion {t.conversion.value}, "
            f"no-shows {t.no_show_rate.value}, cancellations {t.cancellation_rate.value}"
        )
        print(
            f"  occupancy {t.occupancy.value}; bot p50 {t.bot.p50_s} s, p95 {t.bot.p95_s} s, "
            f"average {t.bot.average_s} s; handoffs {t.bot.handoff_rate.value}, "
            f"misunderstood {t.bot.misunderstood_rate.value}"
        )
        print(
            f"  satisfaction {t.satisfaction.average} ({t.satisfaction.answers:,} answers, "
            f"response rate {t.satisfaction.response_rate.value}); returning guests' covers "
            f"{t.returning_covers_share.value}"
        )
        print(f"  lead times {t.lead_time}")
        print(f"  misses the brief's target: {', '.join(t.missed_targets) or 'none'}")
        engine.dispose()
    print(f"\np95 < {TARGET_MS:.0f} ms on every query: {'no' if failed else 'yes'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
