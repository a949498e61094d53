"""``saveit db backup`` / ``saveit db restore``: every booking comes back in a fresh database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from tests.conftest import PG_BASE, _with_database
from tests.e2e.test_cli import _env, _run
from tests.support import FakeClock, demo_document

GUEST = Actor("guest", "web", "webchat")


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on the same backend as ``db_url``, never migrated."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'saveit.db'}"
        return
    name = f"saveit_restore_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _with_database(PG_BASE, name)
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp_path,
        secret_key="test-secret-key",  # type: ignore[arg-type]
        relay_in_process=False,
    )


def test_backup_then_restore_into_a_fresh_database_finds_every_booking(
    db_url: str, fresh_url: str, tmp_path: Path
) -> None:
    container = build(_settings(db_url, tmp_path), clock=FakeClock(), migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    made = {
        container.booking.create(
            CreateReservation(
                "demo",
                datetime(2026, 6, 3 + i, 19, 0, tzinfo=UTC),
                2,
                GuestDetails(name=f"Guest {i}", phone=f"6003{i:05d}"),
            ),
            GUEST,
        ).reservation.code: f"Guest {i}"
        for i in range(5)
    }
    container.close()
    file = tmp_path / "backups" / "saveit.dump"

    done = _run("db", "backup", str(file), env=_env(SAVEIT_DATABASE_URL=db_url), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert file.stat().st_size > 0
    done = _run("db", "restore", str(file), env=_env(SAVEIT_DATABASE_URL=fresh_url), cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    restored = build(_settings(fresh_url, tmp_path), clock=FakeClock(), migrate=False)
    try:
        for code, name in made.items():
            view = restored.booking.get(code)
            assert view.code == code
            assert view.guest is not None
            assert view.guest.name == name
        # The restored database takes new bookings too (sequences came along).
        again = restored.booking.create(
            CreateReservation(
                "demo",
                datetime(2026, 6, 20, 19, 0, tzinfo=UTC),
                2,
                GuestDetails(name="After", phone="600399999"),
            ),
            GUEST,
        )
        assert again.reservation.code not in made
    finally:
        restored.close()


def test_restore_of_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    env = _env(SAVEIT_DATA_DIR=str(tmp_path / "data"))
    done = _run("db", "restore", str(tmp_path / "nope.dump"), env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "no backup at" in done.stderr
