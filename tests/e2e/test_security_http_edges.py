"""``saveit serve`` as deployed: the access log hides query-string secrets, and request
headers are bounded (431) by the server and by the app."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.bootstrap import Container
from tests.e2e.chaos_support import Processes

SECRETS = ("T1SECRETVALUE", "T2SECRETVALUE", "T3SECRETVALUE", "T4SECRETVALUE")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Processes]]:
    tmp = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(SAVEIT_DATA_DIR=str(tmp / "data"), SAVEIT_SECRET_KEY="e2e-" + "k" * 32)
    processes = Processes(tmp)
    try:
        yield processes.serve("api", env), processes
    finally:
        processes.stop()


def test_the_access_log_hides_secrets_in_query_strings(server: tuple[str, Processes]) -> None:
    """Fails before the fix: uvicorn logged ``?token=…``, ``?access_token=…`` and
    ``?session=…`` as they came, credentials included."""
    base, processes = server
    query = (
        f"token={SECRETS[0]}&access_token={SECRETS[1]}&session={SECRETS[2]}"
        f"&hub.verify_token={SECRETS[3]}&date=2026-06-03"
    )
    assert httpx.get(f"{base}/healthz?{query}", timeout=5).status_code == 200
    deadline = time.monotonic() + 5
    while "/healthz?" not in (logs := processes.logs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in logs.splitlines() if "/healthz?" in line)
    assert not any(secret in logs for secret in SECRETS), line
    assert "token=REDACTED" in line
    assert "session=REDACTED" in line
    assert "date=2026-06-03" in line  # what is not a secret stays readable


@pytest.mark.parametrize(
    "headers",
    [
        {f"x-many-{i}": "1" for i in range(150)},  # too many lines
        {"x-big": "a" * 20_000},  # one line too long
        {f"x-wide-{i}": "b" * 1_000 for i in range(40)},  # too many bytes in all
    ],
    ids=["count", "one-line", "total"],
)
def test_the_server_answers_431_to_oversized_headers(
    server: tuple[str, Processes], headers: dict[str, str]
) -> None:
    """Fails before the fix: uvicorn with httptools accepted any number and size of header
    lines (here: 200)."""
    base, _ = server
    refused = httpx.get(f"{base}/healthz", headers=headers, timeout=10)
    assert refused.status_code == 431
    assert refused.json()["code"] == "HEADERS_TOO_LARGE"
    assert httpx.get(f"{base}/healthz", headers={"x-fine": "1"}, timeout=5).status_code == 200


def test_the_app_answers_431_under_any_server(container: Container, tmp_path: Path) -> None:
    """Fails before the fix: the app itself never bounded headers (here: 200)."""
    with TestClient(create_app(container)) as api:
        many = api.get("/healthz", headers={f"x-many-{i}": "1" for i in range(150)})
        big = api.get("/healthz", headers={"x-big": "a" * 20_000})
        fine = api.get("/healthz", headers={"x-fine": "1"})
    assert (many.status_code, big.status_code, fine.status_code) == (431, 431, 200)
    assert many.headers["content-type"] == "application/problem+json"
