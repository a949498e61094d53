"""``saveit staff add|reset-password|remove`` as an operator runs them: real
subprocesses on a real database; passwords come from standard input, never argv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from saveit.accounts import SignInRefused
from saveit.accounts.passwords import Passwords
from saveit.accounts.signin import SignIn
from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import utc_now
from saveit.config import Settings
from saveit.ratelimit import RateLimiter
from saveit.store.database import create_db_engine
from saveit.store.unit_of_work import Database
from tests.support import demo_document

SAVEIT = [sys.executable, "-m", "saveit.cli"]


def _staff(db_url: str, tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env["SAVEIT_DATABASE_URL"] = db_url
    return subprocess.run(
        [*SAVEIT, "staff", *args],
        env=env,
        cwd=tmp,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _can_sign_in(db_url: str, email: str, password: str) -> bool:
    settings = Settings(database_url=db_url)
    engine = create_db_engine(db_url)
    try:
        signin = SignIn(
            Database(engine),
            passwords=Passwords(),
            limiter=RateLimiter.from_settings(settings, None),
            settings=settings,
            clock=utc_now,
        )
        try:
            signin.sign_in(email, password, client_ip=None)
        except SignInRefused:
            return False
        return True
    finally:
        engine.dispose()


@pytest.fixture
def restaurants(db_url: str) -> str:
    engine = create_db_engine(db_url)
    try:
        apply_spec(engine, parse_document(demo_document()))
        apply_spec(engine, parse_document(demo_document(slug="other", name="Otra")))
    finally:
        engine.dispose()
    return db_url


def test_staff_commands_add_reset_and_remove(restaurants: str, tmp_path: Path) -> None:
    db = restaurants
    added = _staff(
        db,
        tmp_path,
        "add",
        "--restaurant",
        "demo",
        "--email",
        "Ana@Example.com",
        "--name",
        "Ana",
        "--role",
        "owner",
        "--password-stdin",
        stdin="first-password-1\n",
    )
    assert added.returncode == 0, added.stderr
    assert "created" in added.stdout
    assert _can_sign_in(db, "ana@example.com", "first-password-1")

    # The same person at a second restaurant: no password asked, none changed.
    again = _staff(db, tmp_path, "add", "--restaurant", "other", "--email", "ana@example.com")
    assert again.returncode == 0, again.stderr
    assert "password is unchanged" in again.stdout

    reset = _staff(
        db,
        tmp_path,
        "reset-password",
        "--email",
        "ana@example.com",
        "--password-stdin",
        stdin="second-password-2\n",
    )
    assert reset.returncode == 0, reset.stderr
    assert not _can_sign_in(db, "ana@example.com", "first-password-1")
    assert _can_sign_in(db, "ana@example.com", "second-password-2")

    short = _staff(
        db,
        tmp_path,
        "reset-password",
        "--email",
        "ana@example.com",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr

    # The password is never an argument.
    argv = _staff(
        db,
        tmp_path,
        "add",
        "--restaurant",
        "demo",
        "--email",
        "b@example.com",
        "--password",
        "in-the-history",
    )
    assert argv.returncode == 2

    _staff(
        db,
        tmp_path,
        "add",
        "--restaurant",
        "other",
        "--email",
        "olga@example.com",
        "--role",
        "owner",
        "--password-stdin",
        stdin="olga-password-1\n",
    )
    left = _staff(db, tmp_path, "remove", "--email", "ana@example.com", "--restaurant", "other")
    assert left.returncode == 0, left.stderr
    assert _can_sign_in(db, "ana@example.com", "second-password-2")  # still works at demo
    gone = _staff(db, tmp_path, "remove", "--email", "ana@example.com")
    assert gone.returncode == 0, gone.stderr
    assert not _can_sign_in(db, "ana@example.com", "second-password-2")
    unknown = _staff(db, tmp_path, "remove", "--email", "ana@example.com")
    assert unknown.returncode == 2
