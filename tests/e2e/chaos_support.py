"""Shared by the multi-process cache, rate-limit and chaos tests: a fresh PostgreSQL
database with the demo restaurant, ``saveit serve`` subprocesses, a private
``redis-server`` that a test may stop and start, and a loopback TCP proxy that
cuts and restores a connection path.

Under ``CI=true`` a missing PostgreSQL, Redis or ``redis-server`` fails instead of
skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from psycopg import sql

from saveit.admin.setup import apply_spec, parse_document
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from tests.support import demo_document

SAVEIT = [sys.executable, "-m", "saveit.cli"]
PG_BASE = os.environ.get("SAVEIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SAVEIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADMIN = "chaos-admin-token"


def missing(what: str, reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"{what} not reachable: {reason}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_redis() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing("Redis", str(exc))
    finally:
        client.close()
    return REDIS_URL


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new migrated PostgreSQL database holding the demo restaurant; dropped afterwards."""
    name = f"saveit_chaos_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        missing("PostgreSQL", str(exc).strip())
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{PG_BASE.rpartition('/')[0]}/{name}"
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        apply_spec(engine, parse_document(demo_document()))
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def saveit_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(SAVEIT_ADMIN_TOKEN=ADMIN, SAVEIT_SECRET_KEY="chaos-test-secret", **values)
    return env


@dataclass
class Processes:
    """Started subprocesses; all are stopped (then killed) by ``stop``."""

    tmp: Path
    procs: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*SAVEIT, *args], env=env, cwd=self.tmp, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append((proc, log))
        return proc

    def serve(self, name: str, env: dict[str, str]) -> str:
        port = free_port()
        proc = self.start(name, ["serve", "--port", str(port)], env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"{name} did not come up:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for _, log in self.procs)

    def stop(self) -> None:
        for proc, _ in self.procs:
            proc.terminate()
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


class RedisServer:
    """A private ``redis-server`` on a free port (no persistence), for tests that stop it."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server", "not on PATH")
        self.binary = str(binary)
        self.tmp = tmp
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.proc = subprocess.Popen(
            args, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # abrupt, as a crash or an OOM kill would be
            self.proc.wait(timeout=10)
        self.proc = None


class AsyncTcpProxy:
    """An asyncio TCP proxy on loopback in a thread of its own. ``cut()`` closes the
    listener and every live connection (clients see resets and refused connects);
    ``restore()`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> AsyncTcpProxy:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *_: Any) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def restore(self) -> None:
        self._run(self._listen())

    def cut(self) -> None:
        self._run(self._close())

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            pass  # cut(): the connection is gone, which is the point
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        with contextlib.suppress(Exception):
            dst.transport.abort()


def booking_day(offset: int = 3) -> date:
    return datetime.now(UTC).date() + timedelta(days=offset)


def reserve(
    client: httpx.Client, base: str, day: date, at: str, *, party: int = 2, timeout: float = 10
) -> httpx.Response:
    return client.post(
        f"{base}/v1/restaurants/demo/reservations",
        json={
            "date": day.isoformat(),
            "time": at,
            "party_size": party,
            "name": "Chaos",
            "email": f"{uuid.uuid4().hex[:12]}@example.com",
        },
        timeout=timeout,
    )


def free_times(client: httpx.Client, base: str, day: date, party: int = 2) -> list[str]:
    got = client.get(
        f"{base}/v1/restaurants/demo/availability",
        params={"date": day.isoformat(), "party_size": party},
        timeout=10,
    )
    assert got.status_code == 200, got.text
    return [s["time"] for s in got.json()["slots"]]


# --- load from several OS processes ------------------------------------------------------

TIMES = [f"{h}:{m:02d}" for h in (13, 14, 20, 21, 22) for m in (0, 15, 30, 45)]


def load_worker(bases: list[str], days: list[str], seconds: float, out: str, seed: int) -> None:
    """One client process: book random slots on the API processes in turn for
    ``seconds`` after the go signal; every outcome (status, code, seconds, error)
    goes to ``out``. Starting together matters: spawning takes seconds."""
    import json
    import random

    rng = random.Random(seed)
    results: list[dict[str, Any]] = []
    go = Path(out).with_name("go")
    Path(out + ".ready").touch()
    while not go.exists():
        time.sleep(0.01)
    until = float(go.read_text() or 0) + seconds
    with httpx.Client(timeout=5.0) as client:
        i = 0
        while time.time() < until:
            base = bases[i % len(bases)]
            i += 1
            started = time.monotonic()
            body = {
                "date": rng.choice(days),
                "time": rng.choice(TIMES),
                "party_size": rng.choice([2, 2, 4, 6]),
                "name": f"Load {seed}",
                "email": f"{uuid.uuid4().hex[:12]}@example.com",
            }
            row: dict[str, Any] = {"at": time.time(), "base": base}
            try:
                got = client.post(f"{base}/v1/restaurants/demo/reservations", json=body)
                row["status"] = got.status_code
                row["type"] = got.headers.get("content-type", "")
                if got.status_code == 201:
                    row["code"] = got.json()["reservation"]["code"]
                elif got.status_code >= 400:
                    row["problem"] = got.json().get("code")
            except httpx.HTTPError as exc:
                row["error"] = repr(exc)
            row["seconds"] = time.monotonic() - started
            results.append(row)
    Path(out).write_text(json.dumps(results))


def run_load(
    tmp: Path, bases: list[str], days: list[str], seconds: float, clients: int = 4
) -> tuple[list[Any], Callable[[], list[dict[str, Any]]]]:
    """Start ``clients`` load processes and release them together; returns them and a
    function collecting their results."""
    import json
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    outs = [str(tmp / f"load-{i}.json") for i in range(clients)]
    procs = [
        ctx.Process(target=load_worker, args=(bases, days, seconds, outs[i], i))
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    wait_until(lambda: all(Path(o + ".ready").exists() for o in outs), 60, "load processes")
    (tmp / "go").write_text(repr(time.time()))

    def collect() -> list[dict[str, Any]]:
        for proc in procs:
            proc.join(timeout=seconds + 30)
            assert proc.exitcode == 0, f"load process exited with {proc.exitcode}"
        return [row for out in outs for row in json.loads(Path(out).read_text())]

    return procs, collect


def audit(db_url: str, created: list[str]) -> dict[str, int]:
    """What the database says after the run: overlaps, the 201s that are not there
    confirmed, and outbox rows never published."""
    from sqlalchemy import func, select

    from saveit.store.reservations import count_overlaps
    from saveit.store.schema import outbox, reservations

    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            overlaps = count_overlaps(conn)
            statuses = (
                dict(
                    conn.execute(
                        select(reservations.c.code, reservations.c.status).where(
                            reservations.c.code.in_(created)
                        )
                    ).all()
                )
                if created
                else {}
            )
            unpublished = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()
    finally:
        engine.dispose()
    lost = sum(statuses.get(code) != "confirmed" for code in created)
    return {"overlaps": overlaps, "lost": lost, "unpublished": int(unpublished)}


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
