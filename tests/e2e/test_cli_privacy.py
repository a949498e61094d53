"""``saveit guest export|erase`` and ``saveit db purge`` as an operator runs them:
real subprocesses against real databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.store.schema import channel_messages, guests, metadata
from tests.e2e.test_cli import _env, _run
from tests.support import FakeClock, demo_document


def _booked(db_url: str, tmp_path: Path) -> int:
    """The demo restaurant with one guest's booking; returns the guest's id."""
    container = build(
        Settings(database_url=db_url, data_dir=tmp_path, secret_key="k"),  # type: ignore[arg-type]
        clock=FakeClock(),
        migrate=False,
    )
    try:
        apply_spec(container.engine, parse_document(demo_document()))
        made = container.booking.create(
            CreateReservation(
                "demo",
                datetime(2026, 6, 3, 19, 0, tzinfo=UTC),  # 21:00 in Madrid
                2,
                GuestDetails(name="Ximena Urquiza", phone="600313131", email="xu@example.org"),
            ),
            Actor("guest", "web", "web"),
        )
    finally:
        container.close()
    assert made.reservation.guest is not None
    return made.reservation.guest.id


def test_guest_export_then_erase(db_url: str, tmp_path: Path) -> None:
    """Fails before the fix: there were no `saveit guest` commands."""
    guest_id = _booked(db_url, tmp_path)
    env = _env(SAVEIT_DATABASE_URL=db_url)
    out = tmp_path / "guest.json"
    exported = _run(
        "guest", "export", str(guest_id), "--restaurant", "demo", "--out", str(out),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert (doc["guest"]["name"], doc["guest"]["email"]) == ("Ximena Urquiza", "xu@example.org")
    assert len(doc["reservations"]) == 1

    missing = _run("guest", "export", "999", "--restaurant", "demo", env=env, cwd=tmp_path)
    assert missing.returncode == 2
    assert "No such guest" in missing.stderr

    erased = _run(
        "guest", "erase", str(guest_id), "--restaurant", "demo", "--by", "Marta", "--yes",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["guest_id"] == guest_id
    engine = build(Settings(database_url=db_url, data_dir=tmp_path), migrate=False).engine
    erasures = metadata.tables["guest_erasures"]
    with engine.connect() as conn:
        row = conn.execute(select(guests).where(guests.c.id == guest_id)).one()
        audit = conn.execute(select(erasures.c.actor, erasures.c.channel)).one()
    engine.dispose()
    assert (row.name, row.phone, row.email) == (f"erased:{guest_id}", None, None)
    assert tuple(audit) == ("staff:Marta", "cli")


def test_guest_erase_asks_first(db_url: str, tmp_path: Path) -> None:
    guest_id = _booked(db_url, tmp_path)
    env = _env(SAVEIT_DATABASE_URL=db_url)
    declined = _run(
        "guest", "erase", str(guest_id), "--restaurant", "demo", "--by", "Marta",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert declined.returncode == 1  # no answer on stdin: aborted
    doc = json.loads(
        _run("guest", "export", str(guest_id), "--restaurant", "demo", env=env, cwd=tmp_path).stdout
    )
    assert doc["guest"]["name"] == "Ximena Urquiza"


def test_db_purge_blanks_old_messages(db_url: str, tmp_path: Path) -> None:
    """Fails before the fix: there was no `saveit db purge`."""
    _booked(db_url, tmp_path)
    env = _env(SAVEIT_DATABASE_URL=db_url, SAVEIT_MESSAGE_RETENTION_DAYS="30")
    engine = build(Settings(database_url=db_url, data_dir=tmp_path), migrate=False).engine
    now = datetime.now(UTC)
    with engine.begin() as conn:
        restaurant_id = conn.execute(select(guests.c.restaurant_id)).scalar_one()
        conn.execute(
            channel_messages.insert(),
            [
                {
                    "public_id": f"p{age}",
                    "restaurant_id": restaurant_id,
                    "direction": "in",
                    "channel": "sms",
                    "provider_message_id": f"SM{age}",
                    "address": "+34600313131",
                    "status": "received",
                    "text": f"{age} days ago",
                    "body": {},
                    "raw": "Body=hola",
                    "created_at": now - timedelta(days=age),
                    "updated_at": now - timedelta(days=age),
                    "processed_at": now - timedelta(days=age),
                }
                for age in (40, 10)
            ],
        )
    purged = _run("db", "purge", env=env, cwd=tmp_path)
    assert purged.returncode == 0, purged.stderr
    assert "purged 1 messages and 0 link codes older than 30 days" in purged.stdout
    with engine.connect() as conn:
        left = dict(
            conn.execute(select(channel_messages.c.public_id, channel_messages.c.text)).all()
        )
    engine.dispose()
    assert left == {"p40": "", "p10": "10 days ago"}
    again = _run("db", "purge", "--days", "5", env=env, cwd=tmp_path)
    assert "purged 1 messages and 0 link codes older than 5 days" in again.stdout
