"""The ``saveit`` command as an operator uses it: real subprocesses, real databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from saveit.api.app import create_app
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.store.database import create_db_engine
from saveit.store.schema import dining_tables, reservations, restaurants
from tests.support import DEMO_YAML

SAVEIT = [sys.executable, "-m", "saveit.cli"]


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(values)
    return env


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SAVEIT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_db_upgrade_builds_the_embedded_database(tmp_path: Path) -> None:
    done = _run("db", "upgrade", env=_env(SAVEIT_DATA_DIR=str(tmp_path / "data")), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "saveit.db").exists()
    again = _run("db", "upgrade", env=_env(SAVEIT_DATA_DIR=str(tmp_path / "data")), cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_seed_creates_a_restaurant_once(db_url: str, tmp_path: Path) -> None:
    env = _env(SAVEIT_DATABASE_URL=db_url)
    first = _run("seed", str(DEMO_YAML), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created restaurant 'demo'" in first.stdout
    second = _run("seed", str(DEMO_YAML), env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already exists" in second.stdout
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        slugs = conn.execute(select(restaurants.c.slug)).scalars().all()
        tables = conn.execute(select(dining_tables.c.code)).scalars().all()
    engine.dispose()
    assert slugs == ["demo"]
    assert sorted(tables) == ["T1", "T2", "T3", "T4", "T5", "T6", "T7"]


def test_seed_refuses_an_invalid_document_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slug: Not A Slug\nname: x\ntimezone: Mars/Olympus\ntables: []\n")
    done = _run("seed", str(bad), env=_env(SAVEIT_DATABASE_URL=db_url), cwd=tmp_path)
    assert done.returncode == 2
    assert "not a valid restaurant document" in done.stderr
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(restaurants.c.id)).first() is None
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*SAVEIT, "demo", "--port", str(port)],
            env=_env(SAVEIT_DATA_DIR=str(tmp_path / "data")),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        proc.wait(timeout=20)
        pytest.fail(f"saveit demo did not become ready:\n{log.read_text()}")
    yield base, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)
    assert "demo restaurant created" in log.read_text()
    assert f"staff console: {base}/console" in log.read_text()
    assert "sign in as   owner@demo.example.com / saveit-demo" in log.read_text()


def test_demo_serves_the_demo_restaurant_with_no_setup(
    demo_server: tuple[str, subprocess.Popen[str]],
) -> None:
    base, _ = demo_server
    profile = httpx.get(f"{base}/v1/restaurants/demo", timeout=5)
    assert profile.status_code == 200
    assert profile.json()["name"] == "Casa Demo"
    assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
    with httpx.Client(base_url=base, timeout=10) as browser:  # the demo's printed login
        form = browser.get("/console/sign-in").text
        csrf = form.split('name="csrf" value="')[1].split('"')[0]
        signed = browser.post(
            "/console/sign-in",
            data={"csrf": csrf, "email": "owner@demo.example.com", "password": "saveit-demo"},
        )
        assert signed.status_code == 303
        assert browser.get("/console/r/demo/staff").status_code == 200


def test_token_create_issues_a_staff_token_the_api_accepts(db_url: str, tmp_path: Path) -> None:
    env = _env(SAVEIT_DATABASE_URL=db_url)
    assert _run("seed", str(DEMO_YAML), env=env, cwd=tmp_path).returncode == 0
    done = _run(
        "token", "create", "--restaurant", "demo", "--role", "manager", env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    container = build(Settings(database_url=db_url, relay_in_process=False), migrate=False)
    with TestClient(create_app(container)) as api:
        tables = api.get(
            "/v1/restaurants/demo/tables", headers={"Authorization": f"Bearer {token}"}
        )
    assert tables.status_code == 200
    unknown = _run("token", "create", "--restaurant", "nope", env=env, cwd=tmp_path)
    assert unknown.returncode == 2


def test_smtp_receives_a_guests_mail_for_a_restaurants_address(db_url: str, tmp_path: Path) -> None:
    import smtplib
    from datetime import UTC, datetime

    from saveit.store import channel_accounts
    from saveit.store import restaurants as restaurant_store
    from saveit.store.schema import channel_messages
    from saveit.store.secret_box import SecretBox

    env = _env(SAVEIT_DATABASE_URL=db_url)
    assert _run("seed", str(DEMO_YAML), env=env, cwd=tmp_path).returncode == 0
    engine = create_db_engine(db_url)
    with engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        channel_accounts.put(
            conn,
            rid,
            "email",
            "reservas@demo.example",
            {},
            datetime.now(UTC),
            box=SecretBox.from_keys([], secret_key="unused: no secrets here"),
            proven_by="admin",
        )
    port = _free_port()
    proc = subprocess.Popen(
        [*SAVEIT, "smtp", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "saveit smtp did not start"
                time.sleep(0.2)
        with client:
            client.sendmail(
                "ana@example.com",
                ["Reservas@Demo.example"],
                b"From: Ana <ana@example.com>\r\nTo: reservas@demo.example\r\n"
                b"Subject: Mesa\r\nMessage-ID: <cli-1@example.com>\r\n\r\n"
                b"Mesa para 2 el viernes, por favor.\r\n",
            )
        with engine.connect() as conn:
            stored = conn.execute(
                select(channel_messages.c.text, channel_messages.c.address).where(
                    channel_messages.c.direction == "in"
                )
            ).all()
        assert [tuple(r) for r in stored] == [
            ("Mesa para 2 el viernes, por favor.", "ana@example.com")
        ]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        engine.dispose()
    assert proc.returncode == 0, out


def test_chat_books_the_demo_from_a_terminal(tmp_path: Path) -> None:
    """``saveit chat`` on the embedded default: the demo is created, a guest books in
    three lines, and a second session (another guest) sees none of it."""
    env = _env(SAVEIT_DATA_DIR=str(tmp_path / "data"))
    said = "table for 2 the day after tomorrow at 9pm please\nAlex Doe\nyes\nmy bookings\n/quit\n"
    done = subprocess.run(
        [*SAVEIT, "chat", "--channel", "sms"],
        input=said,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout  # the demo has no SMS number connected
    assert "has no sms account" in done.stderr

    done = subprocess.run(
        [*SAVEIT, "chat"], input=said, env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "What name should I put the booking under?" in done.stdout
    assert "[1] Yes  [2] No" in done.stdout  # the web chat shows buttons
    code = done.stdout.split("Code: ")[1].split()[0]
    assert f"• {code}:" in done.stdout  # "my bookings" lists it
    engine = create_db_engine(f"sqlite:///{tmp_path / 'data' / 'saveit.db'}")
    try:
        with engine.connect() as conn:
            status = conn.execute(
                select(reservations.c.status).where(reservations.c.code == code)
            ).scalar_one()
    finally:
        engine.dispose()
    assert status == "confirmed"

    other = subprocess.run(
        [*SAVEIT, "chat"], input="my bookings\n", env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "You have no upcoming bookings" in other.stdout
    assert code not in other.stdout


def test_secrets_rotate_reseals_and_refuses_when_a_key_is_gone(db_url: str, tmp_path: Path) -> None:
    """Fails before the fix: there was no `saveit secrets` command."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from saveit.store import channel_accounts
    from saveit.store import restaurants as restaurant_store
    from saveit.store.schema import channel_accounts as table
    from saveit.store.secret_box import SecretBox

    old, new = SecretBox.new_key(), SecretBox.new_key()
    env = _env(SAVEIT_DATABASE_URL=db_url)
    assert _run("seed", str(DEMO_YAML), env=env, cwd=tmp_path).returncode == 0
    engine = create_db_engine(db_url)
    with engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        channel_accounts.put(
            conn,
            rid,
            "whatsapp",
            "104200000000001",
            {"access_token": "EAAG-rotating-token"},
            datetime.now(UTC),
            box=SecretBox.from_keys([old], secret_key="x"),
            proven_by="admin",
        )

    def sealed() -> str:
        with engine.connect() as conn:
            return str(conn.execute(select(table.c.secrets)).scalar())

    before = sealed()
    gone = _run(
        "secrets", "rotate", env={**env, "SAVEIT_ENCRYPTION_KEYS": f'["{new}"]'}, cwd=tmp_path
    )
    assert gone.returncode == 1
    assert "nothing was changed" in gone.stderr
    assert sealed() == before
    both = f'["{new}", "{old}"]'
    rotated = _run("secrets", "rotate", env={**env, "SAVEIT_ENCRYPTION_KEYS": both}, cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert "1 channel account" in rotated.stdout
    with engine.connect() as conn:
        found = channel_accounts.find(
            conn, rid, "whatsapp", SecretBox.from_keys([new], secret_key="x")
        )
    engine.dispose()
    assert found is not None
    assert found.settings["access_token"] == "EAAG-rotating-token"
