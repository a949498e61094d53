"""The container image, built and run the way the README says: ``deploy/build-image``, then
the image against this machine's PostgreSQL (a database of its own) and a Redis on a free
port, on the host network. It migrates, seeds, serves, passes its own HEALTHCHECK and takes a
booking over HTTP. Skips where podman is missing; under ``CI=true`` it must run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.conftest import PG_BASE
from tests.deploy.conftest import DEPLOY, ROOT, unavailable

# A first build on a new machine also makes the base image (debootstrap): allow for it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
PODMAN = str(DEPLOY / "podman")
# One fixed tag, kept between runs: its layers are the build cache, so a later run (CI's on
# this machine) redoes only the wheels layer. What a build leaves dangling is pruned.
TAG = "localhost/saveit:test"


def _podman(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODMAN, *argv], capture_output=True, text=True, timeout=timeout, check=False
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if shutil.which("podman") is None:
        unavailable("podman is not installed (apt-get install -y podman runc debootstrap)")
    started = time.monotonic()
    built = subprocess.run(
        [str(DEPLOY / "build-image"), "--tag", TAG],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        cwd=ROOT,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(
        f"\n{built.stdout.strip().splitlines()[-1]} (test saw {time.monotonic() - started:.0f} s)"
    )
    try:
        yield TAG
    finally:
        _podman("image", "prune", "-f")


@pytest.fixture
def database() -> Iterator[str]:
    name = f"saveit_image_{os.getpid()}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable: {exc}")
    with admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = PG_BASE.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        unavailable("redis-server is not installed")
    assert server is not None
    port = _free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_image_serves_and_books_against_postgres_and_redis(
    image: str, database: str, redis_url: str
) -> None:
    env = {
        "SAVEIT_ENV": "production",
        "SAVEIT_SECRET_KEY": "image-test-" + "k" * 32,
        "SAVEIT_DATABASE_URL": database,
        "SAVEIT_REDIS_URL": redis_url,
    }
    flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    migrated = _podman("run", "--rm", "--network=host", *flags, image, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    seeded = _podman(
        "run",
        "--rm",
        "--network=host",
        *flags,
        "-v",
        f"{ROOT / 'src' / 'saveit' / 'demo.yaml'}:/seed/demo.yaml:ro",
        image,
        "seed",
        "/seed/demo.yaml",
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "created restaurant 'demo'" in seeded.stdout

    port = _free_port()
    name = f"saveit-test-api-{os.getpid()}"
    started = _podman(
        "run",
        "-d",
        "--name",
        name,
        "--network=host",
        "-e",
        f"PORT={port}",
        "-e",
        "HOST=127.0.0.1",
        *flags,
        image,
    )
    assert started.returncode == 0, started.stderr
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, _podman("logs", name).stderr[-3000:]
            time.sleep(0.3)
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}

        checked = _podman("healthcheck", "run", name)  # the image's own HEALTHCHECK
        assert checked.returncode == 0, checked.stdout + checked.stderr
        user = _podman("exec", name, "id", "-u")
        assert user.stdout.strip() == "10001"

        day = (date.today() + timedelta(days=3)).isoformat()
        made = httpx.post(
            f"{base}/v1/restaurants/demo/reservations",
            json={
                "name": "Ana",
                "phone": "600111222",
                "date": day,
                "time": "21:00",
                "party_size": 2,
            },
            timeout=10,
        )
        assert made.status_code == 201, made.text
        code = made.json()["reservation"]["code"]
        with psycopg.connect(database) as conn:
            row = conn.execute(
                "SELECT status FROM reservations WHERE code = %s", (code,)
            ).fetchone()
        assert row is not None
        assert row[0] == "confirmed"
    finally:
        _podman("stop", "-t", "5", name)
        _podman("rm", "-f", name)
