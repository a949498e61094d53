"""``/metrics`` of a real ``saveit serve --workers 2`` adds up both worker processes,
and ``saveit worker`` serves its own on SAVEIT_WORKER_METRICS_PORT."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.metrics_support import total, value

SAVEIT = [sys.executable, "-m", "saveit.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(values)
    return env


def _ready(url: str, proc: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    proc.wait(timeout=20)
    pytest.fail(f"{url} did not answer:\n{log.read_text()}")


def _start_worker(
    env: dict[str, str], cwd: Path, log: Path, *, own_session: bool = False
) -> subprocess.Popen[str]:
    """``saveit worker``, its output in ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            [*SAVEIT, "worker"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=own_session,
        )


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def test_two_api_workers_are_scraped_as_one(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = _env(SAVEIT_DATA_DIR=str(tmp_path / "data"), SAVEIT_LOG_FORMAT="json")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*SAVEIT, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _ready(f"{base}/healthz", proc, log)
        sent = 40
        for _ in range(sent):
            with httpx.Client() as fresh:  # a new connection: either worker may take it
                assert fresh.get(f"{base}/v1/restaurants/nope").status_code == 404
        route = "/v1/restaurants/{slug}"
        for _ in range(4):  # whichever worker answers the scrape, it counts both
            with httpx.Client() as fresh:
                text = fresh.get(f"{base}/metrics").text
            assert total(text, "saveit_http_requests_total", route=route, status="404") == sent
            assert (
                value(text, "saveit_http_request_duration_seconds_count", method="GET", route=route)
                == sent
            )
    finally:
        _stop(proc)
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, "uvicorn's logs are JSON lines too"
    assert all(json.loads(line)["level"] for line in lines)


def test_the_worker_serves_its_metrics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    migrated = subprocess.run(
        [*SAVEIT, "db", "upgrade"],
        env=_env(SAVEIT_DATA_DIR=str(data)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    log = tmp_path / "worker.log"
    env = _env(
        SAVEIT_DATA_DIR=str(data),
        SAVEIT_WORKER_METRICS_PORT=str(port),
        SAVEIT_WORKER_METRICS_HOST="127.0.0.1",
    )
    proc = _start_worker(env, tmp_path, log)
    try:
        _ready(f"http://127.0.0.1:{port}/metrics", proc, log)
        deadline = time.monotonic() + 60  # that it runs, not how soon: CI is loaded
        while True:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            ran = value(text, "saveit_scheduler_runs_total", job="audit") >= 1
            # Each consumer group shows once its loop has joined the bus; under load
            # the notifier may join after the first audit has run.
            if ran and 'saveit_consumer_lag{group="notifier"}' in text:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert value(text, "saveit_double_bookings_detected") == 0
        assert value(text, "saveit_outbox_backlog") == 0
        assert "saveit_relay_lag_seconds" in text
        assert 'saveit_consumer_lag{group="notifier"}' in text
        # A second worker on the same host and port works on without metrics.
        second_log = tmp_path / "worker2.log"
        second = _start_worker(env, tmp_path, second_log)
        try:
            deadline = time.monotonic() + 30
            while "cannot listen" not in second_log.read_text():
                assert second.poll() is None, second_log.read_text()
                assert time.monotonic() < deadline, second_log.read_text()
                time.sleep(0.2)
            time.sleep(1)
            assert second.poll() is None, second_log.read_text()
        finally:
            _stop(second)
    finally:
        _stop(proc)
