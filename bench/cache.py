"""Cached availability against a bare FastAPI app, same uvicorn and worker count, in one run.

Starts ``saveit serve --workers 2`` on a fresh PostgreSQL database and a Redis
(its own key prefix and stream; rate limits off: the bench is one IP) and, beside
it, ``bench/bare_app.py`` (FastAPI answering one constant JSON) under
``uvicorn --workers 2`` on the protocol ``saveit serve`` runs. Warms the
availability cache, then drives, in alternating rounds, the bare endpoint and
``GET /v1/restaurants/demo/availability``
(5 days x 2 party sizes) with ``wrk`` (see ``loadgen.py``: compiled, keep-alive,
64 connections). Each pair of rounds is run with one wrk thread and with two:
if doubling the generator's share of the machine does not raise the bare
app's figure, the generator is not what limits it. Prints req/s, p50/p99 and
the ratio per round (target: cached availability >= 70% of the bare app).

    .venv/bin/python bench/cache.py [--seconds 4] [--rounds 2] [--local-ttl 0]

``--local-ttl 0`` turns the per-process near cache off, so every hit is a Redis
round trip (the figure for "Redis alone").
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
import yaml
from psycopg import sql

import loadgen
from booking import SERVER_PROTOCOL
from saveit.admin.setup import apply_spec, parse_document
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade

PG = os.environ.get("SAVEIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("SAVEIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of each app")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--local-ttl",
        type=float,
        default=None,
        help="SAVEIT_AVAILABILITY_LOCAL_TTL_S for the servers (0: every hit goes to Redis)",
    )
    args = parser.parse_args()
    loadgen.require_wrk()

    name = f"saveit_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"saveit-bench:{uuid.uuid4().hex}"
    with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db = f"{PG.rpartition('/')[0]}/{name}"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        engine = create_db_engine(db)
        upgrade(engine)
        demo = BENCH.parent / "src" / "saveit" / "demo.yaml"
        apply_spec(engine, parse_document(yaml.safe_load(demo.read_text())))
        engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
        env |= {
            "SAVEIT_DATABASE_URL": db,
            "SAVEIT_REDIS_URL": REDIS,
            "SAVEIT_REDIS_PREFIX": prefix,
            "SAVEIT_EVENTS_STREAM": f"{prefix}:events",
            "SAVEIT_RATELIMIT_ENABLED": "false",
            "SAVEIT_SECRET_KEY": "bench",
        }
        if args.local_ttl is not None:
            env["SAVEIT_AVAILABILITY_LOCAL_TTL_S"] = str(args.local_ttl)
        saveit_port, bare_port = free_port(), free_port()
        workers = str(args.workers)
        saveit_cmd = [sys.executable, "-m", "saveit.cli", "serve", "--port", str(saveit_port)]
        bare_cmd = [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH)]
        # The bare app on the protocol `saveit serve` runs: the same server on both sides.
        bare_cmd += ["--port", str(bare_port), "--http", SERVER_PROTOCOL]
        for command in (saveit_cmd, bare_cmd):
            servers.append(
                subprocess.Popen(
                    [*command, "--workers", workers],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        wait_up(saveit_port, "/healthz")
        wait_up(bare_port, "/bare")
        today = datetime.now(UTC).date()
        avail = [
            f"/v1/restaurants/demo/availability?date={today + timedelta(days=d)}&party_size={p}"
            for d in range(2, 7)
            for p in (2, 4)
        ]
        for _ in range(2):  # warm: every key cached, in both processes' near copies
            for path in avail:
                conn = http.client.HTTPConnection("127.0.0.1", saveit_port, timeout=10)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
        rows: dict[int, list[tuple[loadgen.Result, loadgen.Result]]] = {1: [], 2: []}
        for i in range(args.rounds):
            for threads in (1, 2):
                common = {"seconds": args.seconds, "threads": threads}
                bare = loadgen.run(bare_port, ["/bare"], connections=args.connections, **common)
                cached = loadgen.run(saveit_port, avail, connections=args.connections, **common)
                rows[threads].append((bare, cached))
                print(f"round {i + 1}, wrk -t{threads}: bare   {bare.line()}")
                print(f"round {i + 1}, wrk -t{threads}: cached {cached.line()}")
                print(
                    f"round {i + 1}, wrk -t{threads}: cached / bare = {cached.rps / bare.rps:.0%}"
                )
        report(rows, args)
    finally:
        for proc in servers:
            proc.terminate()
        for proc in servers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(match=f"{prefix}*"))
        if keys:
            r.delete(*keys)
        r.close()


def wait_up(port: int, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not come up")


def report(
    rows: dict[int, list[tuple[loadgen.Result, loadgen.Result]]], args: argparse.Namespace
) -> None:
    near = "default" if args.local_ttl is None else f"{args.local_ttl}s"
    print(
        f"\n{args.workers} uvicorn workers each, wrk -c{args.connections}, {args.rounds} x "
        f"{args.seconds}s per endpoint and generator size, near cache TTL {near}, "
        f"nproc {os.cpu_count()}"
    )
    summary: dict[str, float] = {}
    for threads, pairs in rows.items():
        bare = statistics.median(b.rps for b, _ in pairs)
        cached = statistics.median(c.rps for _, c in pairs)
        ratios = [c.rps / b.rps for b, c in pairs]
        non_hits = sum(c.misses + c.other + c.bad + c.errors for _, c in pairs)
        summary |= {f"bare_t{threads}": bare, f"cached_t{threads}": cached}
        summary[f"ratio_t{threads}"] = statistics.median(ratios)
        print(
            f"  wrk -t{threads}: bare {bare:8.0f} req/s, cached {cached:8.0f} req/s, "
            f"ratio {statistics.median(ratios):.0%} "
            f"(rounds {', '.join(f'{r:.0%}' for r in ratios)}), non-hits {non_hits}"
        )
    gain = summary["bare_t2"] / summary["bare_t1"] - 1
    print(
        f"  doubling the generator's threads moved the bare app's figure by {gain:+.0%} "
        "(near 0 or below: the generator is not the ceiling)"
    )
    ratio = min(summary["ratio_t1"], summary["ratio_t2"])
    print(f"  {'PASS' if ratio >= 0.7 else 'MISS'}  cached / bare = {ratio:.0%} (target >= 70%)")
    print(
        json.dumps(
            {k: round(v, 3) if k.startswith("ratio") else round(v) for k, v in summary.items()}
        )
    )


if __name__ == "__main__":
    main()
