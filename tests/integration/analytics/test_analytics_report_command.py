"""``saveit report`` in the terminal: the fortnight's figures as a table, CSV and
JSON, the never-computed days filled first."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from saveit.bootstrap import Container
from saveit.cli import app
from tests.integration.analytics.analytics_fixture import build_fortnight

ARGS = ["report", "--restaurant", "demo", "--from", "2026-10-19", "--to", "2026-11-01"]


@pytest.fixture
def fortnight(container: Container, demo: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with container.engine.begin() as conn:
        build_fortnight(conn, "demo")
    monkeypatch.setenv("SAVEIT_DATABASE_URL", db_url)
    return db_url


def test_the_report_as_json_csv_and_a_table(fortnight: str) -> None:
    runner = CliRunner()
    as_json = runner.invoke(app, [*ARGS, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    found = json.loads(as_json.stdout)
    assert found["total"]["bookings"] == 6
    assert found["total"]["satisfaction"]["average"] == 3.5
    as_csv = runner.invoke(app, [*ARGS, "--format", "csv", "--group", "week"])
    assert as_csv.stdout.splitlines()[1].startswith("2026-W43,4,9,")
    table = runner.invoke(app, ARGS)
    assert table.exit_code == 0, table.output
    assert "misses the brief's target" in table.stdout
    wrong = runner.invoke(app, [*ARGS, "--format", "xml"])
    assert wrong.exit_code != 0
