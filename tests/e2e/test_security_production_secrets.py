"""Production settings: the environment is an enumeration and secrets must be strong;
the published development secret never signs anything reachable from outside."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from saveit.api.app import create_app_from_env
from saveit.config import Settings

STRONG = "s" * 32
SAVEIT = [sys.executable, "-m", "saveit.cli"]


def test_production_is_recognised_in_any_case() -> None:
    """Fails before the fix: ``SAVEIT_ENV=Production`` skipped every check and ran with the
    development secret."""
    with pytest.raises(ValidationError, match="SAVEIT_SECRET_KEY must be set"):
        Settings(env="Production")  # type: ignore[arg-type]
    assert Settings(env=" TEST ", secret_key=STRONG).env == "test"  # type: ignore[arg-type]


def test_an_unknown_environment_stops_the_process() -> None:
    """Fails before the fix: ``SAVEIT_ENV=prod`` was accepted and meant "development"."""
    with pytest.raises(ValidationError, match="env"):
        Settings(env="prod", secret_key=STRONG)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "weak", "named"),
    [
        ("secret_key", "x", "SAVEIT_SECRET_KEY"),
        ("admin_token", "y", "SAVEIT_ADMIN_TOKEN"),
        ("qr_keys", {"K1": "q" * 16}, "SAVEIT_QR_KEYS"),
    ],
)
def test_production_refuses_short_secrets(field: str, weak: object, named: str) -> None:
    """Fails before the fix: a 1-character secret key or admin token was accepted in
    production."""
    values: dict[str, object] = {"env": "production", "secret_key": STRONG, field: weak}
    with pytest.raises(ValidationError, match=named):
        Settings(**values)  # type: ignore[arg-type]
    strong = {"secret_key": STRONG, "admin_token": "a" * 32, "qr_keys": {"K1": "q" * 32}}
    Settings(env="production", **strong)  # type: ignore[arg-type]


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(SAVEIT_DATA_DIR=str(tmp_path / "data"), **values)
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--host", "0.0.0.0", "--port", "1"],
        ["demo", "--host", "192.0.2.10", "--port", "1"],
        ["smtp", "--host", "0.0.0.0", "--port", "1"],
    ],
)
def test_serving_beyond_loopback_with_the_development_secret_is_refused(
    tmp_path: Path, args: list[str]
) -> None:
    """Fails before the fix: the server started on every interface with the development
    secret (here: it tries to bind port 1 instead of refusing)."""
    done = subprocess.run(
        [*SAVEIT, *args],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "development SAVEIT_SECRET_KEY" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_the_worker_refuses_to_send_public_links_signed_with_the_development_secret(
    tmp_path: Path,
) -> None:
    """Fails before the fix: the worker sent QR links for a public host signed with the
    development secret (here it would run until killed)."""
    env = _env(tmp_path, SAVEIT_PUBLIC_BASE_URL="https://book.example.com")
    done = subprocess.run(
        [*SAVEIT, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "public at https://book.example.com" in done.stderr


def test_the_app_factory_refuses_a_public_url_with_the_development_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the fix: ``uvicorn --factory`` built the app with the development
    secret behind a public URL."""
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("SAVEIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAVEIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SAVEIT_PUBLIC_BASE_URL", "https://book.example.com")
    with pytest.raises(RuntimeError, match="development SAVEIT_SECRET_KEY"):
        create_app_from_env()
    assert not (tmp_path / "data").exists()
