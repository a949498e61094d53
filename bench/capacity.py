"""The inputs of the capacity model (docs/capacity.md), measured.

Run: ``.venv/bin/python bench/capacity.py [--duration 20] [--clients 64]
[--database-url URL] [--redis-url URL]``.

Production shape, as ``bench/booking.py``: PostgreSQL + Redis, ``saveit worker``
and the API under uvicorn. Two loads, each with 1 and then 2 API processes:

* the bench mix (80% availability reads over two weeks, 20% creates), as
  ``bench/booking.py`` drives it;
* cache hits only (one day and party size, read again and again).

Around each measured phase it reads the CPU seconds (``/proc/<pid>/stat``) of the
API processes, the worker, PostgreSQL (every backend, plus what exited backends
left in the postmaster's children counters) and Redis; the bench database's
``pg_stat_database`` counters; the WAL position; and Redis's ``INFO
commandstats``. From them it prints what the model multiplies out: requests per
second per API process and per fully used API core, commits, rows written and
WAL bytes per booking, Redis operations per request, and the CPU that the
database, Redis and the worker spend per request.

The load generator shares the machine's cores with everything it measures, so
the per-core figures (requests over the CPU the API processes used) are the
ones to carry to other machines, not the raw throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import booking
from booking import (
    ADMIN_TOKEN,
    PYTHON,
    ROOT,
    Phase,
    Request,
    bench_database,
    booking_requests,
    create_restaurant,
    drive,
    forget_redis_keys,
    machine_header,
    prepare_schema,
    server,
    stop_server,
    worker_pids,
)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime (and the reaped children's, if asked) of one process; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == name:
                    found.append(int(entry))
    return found


def postgres_cpu() -> float:
    """Every live server process, plus the postmaster's reaped children (backends
    that closed during the phase)."""
    pids = pids_named("postgres")
    parents = {}
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as fh:
            parents[pid] = int(fh.read().rsplit(")", 1)[1].split()[1])
    masters = {pid for pid in pids if parents.get(pid) not in parents}
    return sum(cpu_seconds(pid, children=pid in masters) for pid in pids)


@dataclass
class Counters:
    api: float
    worker: float
    postgres: float
    redis: float
    commits: int
    rows_written: int
    wal_lsn: str
    redis_calls: int


@dataclass
class Sources:
    api_pids: list[int]
    worker_pid: int
    redis_pid: int | None
    db: Callable[[], tuple[int, int, str]]
    redis: redis.Redis


def read_counters(src: Sources) -> Counters:
    commits, rows, lsn = src.db()
    stats = src.redis.info("commandstats")
    calls = sum(int(v["calls"]) for v in stats.values() if isinstance(v, dict))
    return Counters(
        api=sum(cpu_seconds(pid) for pid in src.api_pids),
        worker=cpu_seconds(src.worker_pid),
        postgres=postgres_cpu(),
        redis=cpu_seconds(src.redis_pid) if src.redis_pid else 0.0,
        commits=commits,
        rows_written=rows,
        wal_lsn=lsn,
        redis_calls=calls,
    )


def database_reader(url: str) -> tuple[Callable[[], tuple[int, int, str]], Callable[[], None]]:
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    name = make_url(url).database

    def read() -> tuple[int, int, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = conn.execute(
                text(
                    "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted,"
                    " pg_current_wal_lsn()::text FROM pg_stat_database WHERE datname = :n"
                ),
                {"n": name},
            ).one()
        return int(row[0]), int(row[1]), str(row[2])

    def wal_bytes(a: str, b: str) -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT pg_wal_lsn_diff(:b, :a)"), {"a": a, "b": b}).scalar()
            )

    read.wal_bytes = wal_bytes  # type: ignore[attr-defined]
    return read, engine.dispose


@contextlib.contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[int]:
    proc = subprocess.Popen(
        [PYTHON, "-m", "saveit.cli", "worker"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc.pid
    finally:
        stop_server(proc)


def hits_only(base: str, slug: str, day: date) -> Request:
    url = f"{base}/v1/restaurants/{slug}/availability"
    params = {"date": day.isoformat(), "party_size": "2"}

    async def one(session: aiohttp.ClientSession, rng: random.Random) -> tuple[str, str]:
        async with session.get(url, params=params) as resp:
            await resp.read()
            return "availability", str(resp.status)

    return one


@dataclass
class Result:
    load: str
    processes: int
    phase: Phase
    before: Counters
    after: Counters
    wal: int

    @property
    def requests(self) -> int:
        return self.phase.total()

    @property
    def bookings(self) -> int:
        stats = self.phase.ops.get("create")
        return stats.statuses.get("201", 0) if stats else 0


def measure(
    load: str, processes: int, request: Request, src: Sources, clients: int, duration: float
) -> Result:
    booking.WARMUP_S = 3.0
    asyncio.run(drive(request, clients, 3.0))  # warm caches, pools and the JIT-free paths
    time.sleep(1.0)
    booking.WARMUP_S = 0.0
    before = read_counters(src)
    phase = asyncio.run(drive(request, clients, duration))
    time.sleep(1.2)  # the statistics collector flushes at most once a second
    after = read_counters(src)
    wal = src.db.wal_bytes(before.wal_lsn, after.wal_lsn)  # type: ignore[attr-defined]
    return Result(load, processes, phase, before, after, wal)


def report(results: list[Result]) -> None:
    print()
    print(
        "| load | API processes | req/s | API CPU (cores) | req/s per API core |"
        " PostgreSQL CPU ms/req | Redis CPU ms/req | worker CPU ms/req | Redis ops/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        secs = r.phase.seconds
        n = max(r.requests, 1)
        api = r.after.api - r.before.api
        print(
            f"| {r.load} | {r.processes} | {n / secs:,.0f} | {api / secs:.2f} |"
            f" {n / api if api else 0:,.0f} |"
            f" {1000 * (r.after.postgres - r.before.postgres) / n:.2f} |"
            f" {1000 * (r.after.redis - r.before.redis) / n:.3f} |"
            f" {1000 * (r.after.worker - r.before.worker) / n:.2f} |"
            f" {(r.after.redis_calls - r.before.redis_calls) / n:.2f} |"
        )
    print()
    print(
        "| load | API processes | bookings | commits/booking | rows written/booking |"
        " WAL KB/booking |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        if not r.bookings:
            continue
        b = r.bookings
        print(
            f"| {r.load} | {r.processes} | {b:,} | {(r.after.commits - r.before.commits) / b:.1f} |"
            f" {(r.after.rows_written - r.before.rows_written) / b:.1f} |"
            f" {r.wal / b / 1024:.1f} |"
        )
    print()
    print("Per booking, counters cover everything the phase did (its reads included; a")
    print("read on PostgreSQL commits too, in autocommit), divided by the bookings made.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print("SaveIt capacity inputs")
    print(machine_header())
    print(f"clients={args.clients} duration={args.duration:.0f}s per phase (+3 s warm-up)")
    logs = ROOT / "bench" / ".logs"
    logs.mkdir(exist_ok=True)
    today = datetime.now(UTC).date()
    prefix = f"saveit:capacity:{os.getpid()}"
    results: list[Result] = []
    client = redis.Redis.from_url(args.redis_url)
    redis_pids = pids_named("redis-server")
    with bench_database(args.database_url) as url:
        prepare_schema(url)
        read_db, close_db = database_reader(url)
        env = {
            "SAVEIT_DATABASE_URL": url,
            "SAVEIT_ADMIN_TOKEN": ADMIN_TOKEN,
            "SAVEIT_SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "SAVEIT_RATELIMIT_ENABLED": "false",
            "SAVEIT_REDIS_URL": args.redis_url,
            "SAVEIT_REDIS_PREFIX": prefix,
            "SAVEIT_EVENTS_STREAM": f"{prefix}:events",
        }
        try:
            with worker_process(env, logs / "capacity-worker.log") as worker_pid:
                for processes in (1, 2):
                    with server(
                        "saveit.api.app:create_app_from_env",
                        env,
                        logs / f"capacity-api-{processes}.log",
                        processes,
                    ) as (base, pid):
                        src = Sources(
                            worker_pids(pid),
                            worker_pid,
                            redis_pids[0] if redis_pids else None,
                            read_db,
                            client,
                        )
                        slug = f"capacity-{processes}"
                        create_restaurant(base, slug)
                        print(f"{processes} API process(es): bench mix ...", flush=True)
                        results.append(
                            measure(
                                "bench mix 80/20",
                                processes,
                                booking_requests(base, today, slug),
                                src,
                                args.clients,
                                args.duration,
                            )
                        )
                        print(f"{processes} API process(es): cache hits ...", flush=True)
                        results.append(
                            measure(
                                "cache hits",
                                processes,
                                hits_only(base, slug, today),
                                src,
                                args.clients,
                                args.duration,
                            )
                        )
        finally:
            close_db()
            forget_redis_keys(args.redis_url, prefix)
            client.close()
    report(results)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped and database dropped", file=sys.stderr)
        sys.exit(130)
