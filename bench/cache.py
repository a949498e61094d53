"""Availability from the cache versus a bare endpoint, on the same servers, in one run.

Starts two ``saveit serve`` API processes on a fresh PostgreSQL database and a
Redis (its own key prefix and stream), warms the availability cache, then
drives, in alternating rounds, ``GET /healthz`` (a bare FastAPI endpoint
returning a constant JSON) and ``GET /v1/restaurants/demo/availability`` from
several client processes over keep-alive connections on loopback. Prints
requests/s and p50/p95 for each and the ratio (target: cached availability at
≥ 70 % of the bare endpoint's throughput). Rate limits are off in this run (the
probes are exempt from them, so leaving them on would not compare like with
like). Everything it creates is removed at the end.

    .venv/bin/python bench/cache.py [--seconds 4] [--rounds 2] [--clients 4] [--local-ttl 0]

``--local-ttl 0`` turns the per-process near cache off, so every hit is a Redis
round trip (the figure for "Redis alone").
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
import yaml
from psycopg import sql

from saveit.admin.setup import apply_spec, parse_document
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade

PG = os.environ.get("SAVEIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("SAVEIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(ports: list[int], paths: list[str], until: float, out: Any) -> None:
    """One client process: keep-alive GETs round-robin over servers and paths."""
    conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=10) for p in ports]
    latencies: list[float] = []
    misses = errors = 0
    i = 0
    while time.time() < until:
        conn = conns[i % len(conns)]
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            continue
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors += 1
        elif "availability" in path and response.getheader("X-SaveIt-Cache") != "hit":
            misses += 1
    out.put({"latencies": latencies, "misses": misses, "errors": errors})


def measure(ports: list[int], paths: list[str], seconds: float, clients: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    until = time.time() + seconds
    procs = [ctx.Process(target=client, args=(ports, paths, until, queue)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=seconds + 30) for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
        "misses": sum(r["misses"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument(
        "--local-ttl",
        type=float,
        default=None,
        help="SAVEIT_AVAILABILITY_LOCAL_TTL_S for the servers (0: every hit goes to Redis)",
    )
    args = parser.parse_args()

    name = f"saveit_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"saveit-bench:{uuid.uuid4().hex}"
    with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db = f"{PG.rpartition('/')[0]}/{name}"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        engine = create_db_engine(db)
        upgrade(engine)
        demo = Path(__file__).resolve().parents[1] / "src" / "saveit" / "demo.yaml"
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
        ports = [free_port(), free_port()]
        for port in ports:
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "saveit.cli", "serve", "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            wait_up(port)
        today = datetime.now(UTC).date()
        avail = [
            f"/v1/restaurants/demo/availability?date={today + timedelta(days=d)}&party_size={p}"
            for d in range(2, 7)
            for p in (2, 4)
        ]
        for port in ports:  # warm: every key cached (the cache is shared through Redis)
            for path in avail:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
        rows: dict[str, list[dict[str, float]]] = {"bare": [], "cached": []}
        for _ in range(args.rounds):
            rows["bare"].append(measure(ports, ["/healthz"], args.seconds, args.clients))
            rows["cached"].append(measure(ports, avail, args.seconds, args.clients))
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


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not come up")


def report(rows: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    near = "default" if args.local_ttl is None else f"{args.local_ttl}s"
    print(
        f"2 API processes, {args.clients} client processes, {args.rounds} x {args.seconds}s, "
        f"near cache TTL {near}"
    )
    summary = {}
    for kind, runs in rows.items():
        rps = statistics.mean(r["rps"] for r in runs)
        p50 = statistics.mean(r["p50_ms"] for r in runs)
        p95 = statistics.mean(r["p95_ms"] for r in runs)
        misses = sum(r["misses"] for r in runs)
        errors = sum(r["errors"] for r in runs)
        summary[kind] = rps
        print(
            f"  {kind:7s} {rps:8.0f} req/s   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   "
            f"non-hits {misses}   errors {errors}"
        )
    ratio = summary["cached"] / summary["bare"]
    print(f"  cached availability / bare endpoint = {ratio:.0%} (target >= 70%)")
    print(json.dumps({"ratio": round(ratio, 3), **{k: round(v) for k, v in summary.items()}}))


if __name__ == "__main__":
    main()
