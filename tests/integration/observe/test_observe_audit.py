"""The double-booking auditor sounds the alarm when the invariant is broken on purpose:
a second reservation written straight into the tables, past the claims index."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.observe import auditor
from saveit.store.schema import reservation_tables, reservations
from tests.metrics_support import value

GUEST = Actor("guest", "web", "webchat")
NAME, PHONE, EMAIL = "Zoe Auditada", "600999888", "zoe@example.com"


def _smuggle_overlap(container: Container, demo: str) -> tuple[str, str]:
    """Book one table properly, then copy the booking under another code, 30 minutes
    later, on the same table, without claiming its cells."""
    made = container.booking.create(
        CreateReservation(
            demo,
            datetime(2026, 6, 3, 19, 0, tzinfo=UTC),
            2,
            GuestDetails(name=NAME, phone=PHONE, email=EMAIL),
        ),
        GUEST,
    )
    code = made.reservation.code
    with container.engine.begin() as conn:
        row = conn.execute(select(reservations).where(reservations.c.code == code)).one()
        copy = {k: v for k, v in row._asdict().items() if k != "id"}
        copy.update(
            code="SMUGGLED",
            start_at=row.start_at.replace(minute=30),
            end_at=row.end_at.replace(minute=30),
        )
        new_id = conn.execute(insert(reservations).values(copy)).inserted_primary_key[0]
        tables = conn.execute(
            select(reservation_tables.c.table_id).where(
                reservation_tables.c.reservation_id == row.id
            )
        ).scalars()
        for table_id in tables:
            conn.execute(
                insert(reservation_tables).values(reservation_id=new_id, table_id=table_id)
            )
    return code, "SMUGGLED"


def test_a_clean_database_audits_clean(container: Container, demo: str) -> None:
    container.booking.create(
        CreateReservation(
            demo, datetime(2026, 6, 3, 19, 0, tzinfo=UTC), 2, GuestDetails(name=NAME, phone=PHONE)
        ),
        GUEST,
    )
    assert auditor.audit(container.engine) == []


def test_an_overlap_sets_the_metric_and_logs_an_error_without_personal_data(
    container: Container, demo: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = _smuggle_overlap(container, demo)
    with caplog.at_level(logging.ERROR, logger="saveit.audit"):
        found = auditor.audit(container.engine)
    assert [(pair.first, pair.second) for pair in found] == [(first, second)]
    [record] = [r for r in caplog.records if r.name == "saveit.audit"]
    assert record.levelno == logging.ERROR
    line = record.getMessage()
    assert first in line
    assert second in line
    assert "table" in line
    assert "2026-06-03T19:30:00+00:00" in line
    for personal in (NAME, PHONE, EMAIL, "Zoe"):
        assert personal not in line
    with TestClient(create_app(container)) as client:
        assert value(client.get("/metrics").text, "saveit_double_bookings_detected") == 1
        container.booking.cancel(second, Actor("staff", "ana", "dashboard"))
        assert auditor.audit(container.engine) == []
        assert value(client.get("/metrics").text, "saveit_double_bookings_detected") == 0


def test_saveit_audit_exits_non_zero_and_names_the_pair(
    container: Container, demo: str, db_url: str, tmp_path: Path
) -> None:
    first, second = _smuggle_overlap(container, demo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(SAVEIT_DATABASE_URL=db_url, SAVEIT_LOG_FORMAT="json")
    done = subprocess.run(
        [sys.executable, "-m", "saveit.cli", "audit"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [
        json.loads(line)
        for line in done.stderr.splitlines()
        if line.startswith("{") and json.loads(line)["level"] == "ERROR"
    ]
    assert len(errors) == 1
    assert first in errors[0]["message"]
    assert second in errors[0]["message"]
    assert PHONE not in done.stderr
    assert NAME not in done.stderr
    container.booking.cancel(second, Actor("staff", "ana", "dashboard"))
    clean = subprocess.run(
        [sys.executable, "-m", "saveit.cli", "audit"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert clean.returncode == 0, clean.stderr
    assert "no double bookings" in clean.stdout
