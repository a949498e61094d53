"""Booking throughput/latency bench: SaveIt's API against a one-INSERT ceiling.

Run: ``.venv/bin/python bench/booking.py [--duration S] [--clients 64] [--database-url URL]``.
It creates a throwaway PostgreSQL database, starts the real API under uvicorn
(2 workers), drives it with an 80/20 availability/create mix over HTTP
keep-alive, then does the same to ``bench/ceiling_app.py``, prints the figures
against their targets, and audits the database for double bookings.
Exit status is non-zero only on double bookings or request errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.reservations import count_overlaps

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
SLUG = "bench"  # each round books a fresh copy: bench-1, bench-2, …; bench-rate the latency phase
TABLES = 30
OPEN_H, CLOSE_H = 10, 23  # one long service, restaurant timezone UTC
CREATE_DAYS = 45  # creates spread over this many days so ordinary slots rarely fill
READ_DAYS = 14
HOT_STARTS = ((2, 20, 0), (2, 20, 30), (3, 21, 0))  # (days ahead, hour, minute)
HOT_SHARE = 0.2  # of creates aimed at a hot start
WAITLIST_PER_HOT_START = 5  # guests waiting on each hot start before a round begins
WARMUP_S = 3.0
SERVER_PROTOCOL = "saveit.api.server_protocol:ServerProtocol"  # what `saveit serve` runs

# Issue 20's targets (the first round's were p95 < 50 / p99 < 100 ms for a create,
# availability p95 < 20 ms, and 50% of the ceiling).
TARGETS = {
    "create_p95": 50.0,
    "create_p99": 50.0,
    "avail_p95": 10.0,
    "ratio": 0.7,
    "rss_mb": 250.0,
}


@dataclass
class OpStats:
    """Latencies (ms) and status counts of one operation kind."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, status: str, ms: float) -> None:
        self.latencies.append(ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def pct(self, p: float) -> float:
        """Nearest-rank percentile; NaN when nothing was recorded."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Phase:
    """One measured run: stats per operation and its wall time."""

    ops: dict[str, OpStats]
    seconds: float
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per process group

    def total(self) -> int:
        return sum(len(s.latencies) for s in self.ops.values())

    def errors(self) -> int:
        ok = {"201", "200", "409"}
        return sum(n for s in self.ops.values() for k, n in s.statuses.items() if k not in ok)


# ---------------------------------------------------------------- machine / processes


def machine_header() -> str:
    """Say where the numbers came from: the load generator shares these cores."""
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    return f"machine: nproc={os.cpu_count()} mem={mem_kb / 1024 / 1024:.1f} GiB cpu={cpu}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    factory: str, port: int, env: dict[str, str], log: Path, processes: int = 2
) -> subprocess.Popen[bytes]:
    """uvicorn with ``processes`` workers in its own session, so cleanup can signal the
    whole group. Every app runs on the protocol ``saveit serve`` runs (one write per
    response, ``saveit.api.server_protocol``): SaveIt as deployed, and the ceiling on
    the same server, so a ratio measures the app and not a difference of servers."""
    cmd = [
        PYTHON,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--http",
        SERVER_PROTOCOL,
        "--workers",
        str(processes),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (ours alone), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll /readyz: workers import and connect at their own pace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/readyz", timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("server never became ready")


def worker_pids(master: int) -> list[int]:
    """uvicorn's worker processes: descendants of the master that run Python (the
    master itself when it serves alone, ``--workers 1``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as fh:
            ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = list(children.get(master, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"spawn_main" in fh.read():  # uvicorn workers, not the resource tracker
                found.append(pid)
    return sorted(found) or [master]


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM is the kernel's own high-water mark, so one read at the end suffices."""
    peaks: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (``/proc/<pid>/stat``)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Every PostgreSQL process: the bench's backends serve both apps and the worker."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == "postgres":
                    found.append(int(entry))
    return found


Watched = dict[str, Callable[[], list[int]]]  # process group -> its pids now


def snapshot(watched: Watched) -> dict[str, float]:
    return {name: cpu_seconds(pids()) for name, pids in watched.items()}


# ---------------------------------------------------------------- database


@contextlib.contextmanager
def bench_database(base_url: str) -> Iterator[str]:
    """A fresh database for this run, dropped afterwards whatever happens."""
    base = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"saveit_bench_{os.getpid()}"
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


def prepare_schema(url: str) -> None:
    """Migrate for SaveIt and add the ceiling's table, before any server starts."""
    from bench.ceiling_app import TABLE_DDL

    engine = create_db_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text(TABLE_DDL))
    finally:
        engine.dispose()


def double_bookings(url: str) -> int:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return count_overlaps(conn)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- workload


def restaurant_spec(slug: str) -> dict[str, object]:
    """Many interchangeable tables and one long service: creates mostly succeed."""
    return {
        "slug": slug,
        "name": "Bench Bistro",
        "timezone": "UTC",
        "rules": {
            "slot_minutes": 15,
            "turn_times": [{"max_party": 1000, "minutes": 90}],
            "buffer_minutes": 15,
            "min_lead_minutes": 60,
            "max_days_ahead": 90,
            "max_party_size": 6,
            "cancel_cutoff_minutes": 120,
        },
        "services": [
            {"name": "all-day", "opens": f"{OPEN_H:02d}:00", "closes": f"{CLOSE_H:02d}:00"}
        ],
        "tables": [
            {"code": f"T{i}", "area": "indoor", "min_capacity": 1, "max_capacity": 6}
            for i in range(1, TABLES + 1)
        ],
        "combinations": [],
    }


def create_restaurant(base: str, slug: str) -> None:
    import json

    req = urllib.request.Request(
        f"{base}/v1/restaurants",
        data=json.dumps(restaurant_spec(slug)).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 201:
            raise RuntimeError(f"restaurant create returned {resp.status}")


def join_waitlist(base: str, slug: str, today: date) -> None:
    """Guests waiting on every hot start: the booking path must not pay for them
    (offers are worked out by the worker from the event stream)."""
    import json

    rng = random.Random(7)
    for days, hour, minute in HOT_STARTS:
        start = datetime(today.year, today.month, today.day, hour, minute, tzinfo=UTC)
        for n in range(WAITLIST_PER_HOT_START):
            body = {
                "start": (start + timedelta(days=days)).isoformat(),
                "party_size": rng.randint(1, 6),
                "name": f"Waiting {n}",
                "phone": phone(rng),
            }
            req = urllib.request.Request(
                f"{base}/v1/restaurants/{slug}/waitlist",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"waitlist join returned {resp.status}")


def slot_start(today: date, rng: random.Random) -> str:
    """A create's start: sometimes a hot slot everyone wants, else a random one."""
    if rng.random() < HOT_SHARE:
        days, hour, minute = rng.choice(HOT_STARTS)
    else:
        days = rng.randint(1, CREATE_DAYS)
        slot = rng.randrange((CLOSE_H - OPEN_H) * 4 - 6)  # leave room for the 90 min turn
        hour, minute = OPEN_H + slot // 4, (slot % 4) * 15
    start = datetime(today.year, today.month, today.day, hour, minute, tzinfo=UTC)
    return (start + timedelta(days=days)).isoformat()


def phone(rng: random.Random) -> str:
    return f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"


Request = Callable[[aiohttp.ClientSession, random.Random], Awaitable[tuple[str, str]]]


CACHE_OUTCOMES: Counter[str] = Counter()  # X-SaveIt-Cache of every availability answer


def booking_requests(base: str, today: date, slug: str) -> Request:
    """80% availability reads over the next two weeks, 20% creates."""
    avail_url = f"{base}/v1/restaurants/{slug}/availability"
    create_url = f"{base}/v1/restaurants/{slug}/reservations"

    async def one(session: aiohttp.ClientSession, rng: random.Random) -> tuple[str, str]:
        if rng.random() < 0.8:
            day = today + timedelta(days=rng.randint(0, READ_DAYS - 1))
            params = {"date": day.isoformat(), "party_size": str(rng.randint(1, 6))}
            async with session.get(avail_url, params=params) as resp:
                await resp.read()
                CACHE_OUTCOMES[resp.headers.get("X-SaveIt-Cache", "none")] += 1
                return "availability", str(resp.status)
        body = {
            "start": slot_start(today, rng),
            "party_size": rng.randint(1, 6),
            "name": "Bench Guest",
            "phone": phone(rng),
        }
        async with session.post(create_url, json=body) as resp:
            await resp.read()
            return "create", str(resp.status)

    return one


def ceiling_requests(base: str) -> Request:
    url = f"{base}/insert"

    async def one(session: aiohttp.ClientSession, rng: random.Random) -> tuple[str, str]:
        async with session.post(url, json={"name": "x", "party_size": rng.randint(1, 6)}) as resp:
            await resp.read()
            return "insert", str(resp.status)

    return one


async def client_loop(
    session: aiohttp.ClientSession,
    request: Request,
    seed: int,
    record_from: float,
    stop_at: float,
    ops: dict[str, OpStats],
) -> None:
    """One closed-loop client: next request as soon as the last one answers."""
    rng = random.Random(seed)
    while (now := time.perf_counter()) < stop_at:
        try:
            op, status = await request(session, rng)
        except (aiohttp.ClientError, TimeoutError) as exc:
            op, status = "transport", type(exc).__name__
        if now >= record_from:
            ops.setdefault(op, OpStats()).add(status, (time.perf_counter() - now) * 1000)


async def drive(
    request: Request, clients: int, duration: float, watched: Watched | None = None
) -> Phase:
    """Warm up, then measure ``duration`` seconds of ``clients`` concurrent keep-alive
    clients; with ``watched``, the CPU each process group used while measured."""
    ops: dict[str, OpStats] = {}
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        record_from, stop_at = start + WARMUP_S, start + WARMUP_S + duration
        before: dict[str, float] = {}

        async def at_record_from() -> None:
            await asyncio.sleep(WARMUP_S)
            before.update(snapshot(watched or {}))

        await asyncio.gather(
            at_record_from(),
            *(
                client_loop(session, request, seed, record_from, stop_at, ops)
                for seed in range(clients)
            ),
        )
        measured = time.perf_counter() - record_from
        after = snapshot(watched or {})
    return Phase(ops, measured, {k: after[k] - before.get(k, after[k]) for k in after})


async def paced(request: Request, clients: int, rate: float, duration: float) -> Phase:
    """Open loop: requests arrive at ``rate`` per second (Poisson), whatever the
    server's pace, over at most ``clients`` connections. Latency is taken from
    each request's scheduled arrival, so time spent waiting for a free
    connection counts (no coordinated omission)."""
    ops: dict[str, OpStats] = {}
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    rng = random.Random(7)
    tasks: set[asyncio.Task[None]] = set()

    async def one(arrival: float, seed: int, record: bool) -> None:
        try:
            op, status = await request(session, random.Random(seed))
        except (aiohttp.ClientError, TimeoutError) as exc:
            op, status = "transport", type(exc).__name__
        if record:
            ops.setdefault(op, OpStats()).add(status, (time.perf_counter() - arrival) * 1000)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        record_from, stop_at = start + WARMUP_S, start + WARMUP_S + duration
        arrival = start
        n = 0
        while arrival < stop_at:
            arrival += rng.expovariate(rate)
            delay = arrival - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            task = asyncio.create_task(one(arrival, n, arrival >= record_from))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    return Phase(ops, stop_at - record_from)


# ---------------------------------------------------------------- report


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def op_line(name: str, stats: OpStats, seconds: float) -> str:
    statuses = " ".join(f"{k}={v}" for k, v in sorted(stats.statuses.items()))
    return (
        f"  {name:<13} n={len(stats.latencies):>7}  {len(stats.latencies) / seconds:8.1f} req/s"
        f"  p50={stats.pct(50):6.1f}  p95={stats.pct(95):6.1f}  p99={stats.pct(99):6.1f} ms"
        f"  [{statuses}]"
    )


def merged(phases: list[Phase]) -> Phase:
    ops: dict[str, OpStats] = {}
    for phase in phases:
        for name, stats in phase.ops.items():
            into = ops.setdefault(name, OpStats())
            into.latencies.extend(stats.latencies)
            for status, count in stats.statuses.items():
                into.statuses[status] = into.statuses.get(status, 0) + count
    cpu: dict[str, float] = {}
    for phase in phases:
        for name, seconds in phase.cpu_s.items():
            cpu[name] = cpu.get(name, 0.0) + seconds
    return Phase(ops, sum(p.seconds for p in phases), cpu)


def report(
    rounds: list[tuple[Phase, Phase]],
    at_rate: Phase,
    rate: float,
    rss: dict[int, float],
    overlaps: int,
    mode: str,
) -> bool:
    """Print the figures beside their targets; True when nothing fatal happened."""
    booking = merged([ours for ours, _ in rounds])
    ceiling = merged([bare for _, bare in rounds])
    create = at_rate.ops.get("create", OpStats())
    avail = at_rate.ops.get("availability", OpStats())
    print(f"\nSaveIt booking API, {mode}")
    print(f"\n1. Saturation: closed loop, {len(rounds)} rounds, {booking.seconds:.1f} s measured")
    print(f"  total         {booking.total() / booking.seconds:8.1f} req/s")
    for name, stats in sorted(booking.ops.items()):
        print(op_line(name, stats, booking.seconds))
    answered = sum(CACHE_OUTCOMES.values()) or 1
    shares = ", ".join(f"{k} {v / answered:.0%}" for k, v in CACHE_OUTCOMES.most_common())
    print(f"  availability cache (all phases): {shares}")
    print(f"\n   Ceiling app (FastAPI + 1 INSERT), same clients, {ceiling.seconds:.1f} s measured")
    for name, stats in sorted(ceiling.ops.items()):
        print(op_line(name, stats, ceiling.seconds))
    print("\n   Rounds (SaveIt, then the ceiling a few seconds later)")
    ratios = []
    for n, (ours, bare) in enumerate(rounds, 1):
        o_rps, b_rps = ours.total() / ours.seconds, bare.total() / bare.seconds
        ratios.append(o_rps / b_rps if b_rps else 0.0)
        print(f"  {n}: {o_rps:7.1f} req/s vs {b_rps:7.1f} req/s = {ratios[-1]:.0%}")
    ratio = sorted(ratios)[len(ratios) // 2]
    print(f"  median ratio: {ratio:.0%}")
    print(
        "\n   CPU per request while measured, ms (less noisy than throughput on a shared machine)"
    )
    for label, phase in (("SaveIt", booking), ("ceiling", ceiling)):
        if phase.cpu_s and phase.total():
            parts = ", ".join(
                f"{name} {1000 * seconds / phase.total():.2f}"
                for name, seconds in phase.cpu_s.items()
            )
            busy = sum(phase.cpu_s.values()) / phase.seconds
            print(f"  {label:<8} {parts}; these processes kept {busy:.0%} of a core busy")
    print(
        f"\n2. Latency at an offered {rate:.0f} req/s (open loop, Poisson arrivals), "
        f"{at_rate.seconds:.1f} s measured"
    )
    print(f"  total         {at_rate.total() / at_rate.seconds:8.1f} req/s")
    for name, stats in sorted(at_rate.ops.items()):
        print(op_line(name, stats, at_rate.seconds))
    print("\nPeak RSS per API worker (VmHWM)")
    for pid, mb in sorted(rss.items()):
        print(f"  pid {pid}: {mb:.1f} MB")
    errors = booking.errors() + at_rate.errors() + ceiling.errors()
    worst_rss = max(rss.values(), default=float("nan"))
    print("\nTargets")
    rows = [
        (
            f"create p95 < {TARGETS['create_p95']:.0f} ms @ {rate:.0f}/s",
            f"{create.pct(95):.1f} ms",
            create.pct(95) < TARGETS["create_p95"],
        ),
        (
            f"create p99 < {TARGETS['create_p99']:.0f} ms @ {rate:.0f}/s",
            f"{create.pct(99):.1f} ms",
            create.pct(99) < TARGETS["create_p99"],
        ),
        (
            f"availability p95 < {TARGETS['avail_p95']:.0f} ms @ {rate:.0f}/s",
            f"{avail.pct(95):.1f} ms",
            avail.pct(95) < TARGETS["avail_p95"],
        ),
        (
            f"throughput >= {TARGETS['ratio']:.0%} of ceiling (median)",
            f"{ratio:.0%}",
            ratio >= TARGETS["ratio"],
        ),
        ("RSS < 250 MB per API process", f"{worst_rss:.1f} MB", worst_rss < TARGETS["rss_mb"]),
        ("0 double bookings", str(overlaps), overlaps == 0),
        ("0 errors (non 200/201/409)", str(errors), errors == 0),
    ]
    for label, value, ok in rows:
        print(f"  {mark(ok)}  {label:<38} {value}")
    return overlaps == 0 and errors == 0


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def server(
    factory: str, env: dict[str, str], log: Path, processes: int = 2
) -> Iterator[tuple[str, int]]:
    """One uvicorn server (2 workers) for the length of the block: (base URL, pid)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(factory, port, env, log, processes)
    try:
        wait_ready(base, proc)
        yield base, proc.pid
    finally:
        stop_server(proc)


@contextlib.contextmanager
def relay_worker(env: dict[str, str], log: Path, only: str | None = None) -> Iterator[int]:
    """``saveit worker``: the production relay from the outbox to Redis Streams
    (``only``: just that part of it, ``saveit worker --only``); yields its pid."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "saveit.cli", "worker", *(["--only", only] if only else [])],
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


def forget_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def served_code(env: dict[str, str]) -> str:
    """Where the servers import ``saveit`` from, with their environment: a before/after
    comparison must show that each side ran its own tree."""
    probe = "import saveit, pathlib; print(pathlib.Path(saveit.__file__).parent.parent)"
    done = subprocess.run(
        [PYTHON, "-c", probe],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="saturation rounds, SaveIt then ceiling"
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="production mode: Redis cache/bus and a separate `saveit worker`",
    )
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="PostgreSQL only: in-process cache, relay and database-fed live feed",
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="offered req/s of the latency phase"
    )
    args = parser.parse_args()
    if not 1 <= args.duration <= 600 or not 1 <= args.clients <= 1024:
        parser.error("--duration must be 1..600 s and --clients 1..1024")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print("SaveIt booking bench")
    print(machine_header())
    print(
        f"clients={args.clients} duration={args.duration:.0f}s (+{WARMUP_S:.0f}s warm-up) "
        "per app, uvicorn --workers 2, aiohttp keep-alive load generator on the same host"
    )
    logs = ROOT / "bench" / ".logs"
    logs.mkdir(exist_ok=True)
    today = datetime.now(UTC).date()
    prefix = f"saveit:bench:{os.getpid()}"
    with bench_database(args.database_url) as url:
        print(f"database: {make_url(url).database}")
        prepare_schema(url)
        api_env = {
            "SAVEIT_DATABASE_URL": url,
            "SAVEIT_ADMIN_TOKEN": ADMIN_TOKEN,
            "SAVEIT_SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "SAVEIT_RATELIMIT_ENABLED": "false",
            # An inherited PYTHONPATH stays first: a before/after comparison puts a
            # worktree's ``src`` there, and the servers must run that code, not the
            # editable install's.
            "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
        }
        if args.no_redis:
            mode = "PostgreSQL only (in-process relay, cache and live feed in each worker)"
            relay: contextlib.AbstractContextManager[int | None] = contextlib.nullcontext()
        else:
            mode = "PostgreSQL + Redis, with `saveit worker` relaying the outbox"
            api_env |= {
                "SAVEIT_REDIS_URL": args.redis_url,
                "SAVEIT_REDIS_PREFIX": prefix,
                "SAVEIT_EVENTS_STREAM": f"{prefix}:events",
            }
            relay = relay_worker(api_env, logs / "worker.log")
        print(f"mode: {mode}")
        print(f"code: {served_code(api_env)}")
        rounds: list[tuple[Phase, Phase]] = []
        try:
            with (
                relay as relay_pid,
                server("saveit.api.app:create_app_from_env", api_env, logs / "api.log") as (
                    base,
                    pid,
                ),
                server(
                    "bench.ceiling_app:create_app",
                    {**api_env, "BENCH_DATABASE_URL": url},
                    logs / "ceiling.log",
                ) as (ceiling_base, ceiling_pid),
            ):
                common: Watched = {
                    "worker": lambda: [relay_pid] if relay_pid else [],
                    "PostgreSQL": postgres_pids,
                    "generator": lambda: [os.getpid()],
                }
                ours_watched = {"API": lambda: worker_pids(pid), **common}
                bare_watched = {"API": lambda: worker_pids(ceiling_pid), **common}
                # Both servers stay up; the loads alternate, so each ratio compares
                # two runs a few seconds apart on this shared, noisy machine. Each
                # round books its own fresh restaurant: its 30 tables over 45 days
                # hold ~6,000 bookings, which one round would otherwise mostly
                # fill, leaving the next rounds little but refusals to measure.
                for n in range(args.rounds):
                    print(f"round {n + 1}/{args.rounds} ...", flush=True)
                    slug = f"{SLUG}-{n + 1}"
                    create_restaurant(base, slug)
                    join_waitlist(base, slug, today)
                    ours = asyncio.run(
                        drive(
                            booking_requests(base, today, slug),
                            args.clients,
                            args.duration,
                            ours_watched,
                        )
                    )
                    bare = asyncio.run(
                        drive(
                            ceiling_requests(ceiling_base),
                            args.clients,
                            args.duration,
                            bare_watched,
                        )
                    )
                    rounds.append((ours, bare))
                print(f"latency at {args.rate:.0f} req/s ...", flush=True)
                create_restaurant(base, f"{SLUG}-rate")
                join_waitlist(base, f"{SLUG}-rate", today)
                at_rate = asyncio.run(
                    paced(
                        booking_requests(base, today, f"{SLUG}-rate"),
                        args.clients,
                        args.rate,
                        args.duration,
                    )
                )
                rss = peak_rss_mb(worker_pids(pid))
        finally:
            if not args.no_redis:
                forget_redis_keys(args.redis_url, prefix)
        overlaps = double_bookings(url)
        ok = report(rounds, at_rate, args.rate, rss, overlaps, mode)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped and database dropped", file=sys.stderr)
        sys.exit(130)
