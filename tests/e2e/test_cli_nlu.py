"""``saveit parse`` and ``saveit eval`` as an operator runs them: real subprocesses,
no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAVEIT = [sys.executable, "-m", "saveit.cli"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    return subprocess.run(
        [*SAVEIT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_parse_prints_exactly_one_object_of_six_keys(tmp_path: Path) -> None:
    done = _run(
        "parse",
        "Hola! mesa para 4 mñn a las 9 a nombre de Ana",
        "--now",
        "2026-11-28T12:00",
        "--tz",
        "Europe/Madrid",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1
    data = json.loads(done.stdout)
    assert list(data) == ["intent", "lang", "date", "time", "party_size", "name"]
    assert data == {
        "intent": "book",
        "lang": "es",
        "date": "2026-11-29",
        "time": "21:00",
        "party_size": 4,
        "name": "Ana",
    }
    assert not (tmp_path / "data").exists()  # no database touched


def test_parse_defaults_and_language_hint(tmp_path: Path) -> None:
    done = _run("parse", "21:30", "--lang", "en", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["intent"], data["lang"], data["time"]) == ("unknown", "en", "21:30")


def test_parse_rejects_a_bad_zone(tmp_path: Path) -> None:
    done = _run("parse", "hola", "--tz", "Mars/Olympus", cwd=tmp_path)
    assert done.returncode == 2


def test_eval_passes_on_the_shipped_set(tmp_path: Path) -> None:
    done = _run("eval", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("intent accuracy:", "lang accuracy:", "date:", "time:", "party_size:", "name:"):
        assert line in done.stdout
    assert "invented slots: 0" in done.stdout
    held_out = done.stdout.split("held-out set:", 1)[1]
    for lang in ("es", "en"):
        [row] = [line for line in held_out.splitlines() if line.strip().startswith(lang)]
        assert " intent " in row, row
        for figure in ("date", "time", "date+time exact", "ambiguity flagged", "confident wrong"):
            assert f"| {figure} " in row, row
    assert "result: PASS" in held_out


def test_eval_scores_a_file_of_dates_and_times_apart(tmp_path: Path) -> None:
    wrong = tmp_path / "dates.jsonl"
    line = {"text": "table at 9pm", "lang": "en", "date": None, "time": "20:00"}
    wrong.write_text(json.dumps(line) + "\n", encoding="utf-8")
    done = _run("eval", "--dates-file", str(wrong), "--verbose", cwd=tmp_path)
    assert done.returncode == 1
    assert "utterances:" not in done.stdout  # only the file asked for
    assert "confident wrong 100.0% (1/1)" in done.stdout


def test_parse_says_when_it_leaves_a_day_open(tmp_path: Path) -> None:
    done = _run("parse", "mesa el vie 22", "--now", "2026-11-28T12:00", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["date"], data["ambiguous"]) == (None, "weekday_date")


def test_eval_fails_below_target(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(
            {
                "text": "hola",
                "intent": "book",
                "lang": "es",
                "date": None,
                "time": None,
                "party_size": None,
                "name": None,
            }
        )
        + "\n",
        encoding="utf-8",
    )
    done = _run("eval", "--file", str(bad), "--verbose", cwd=tmp_path)
    assert done.returncode == 1
    assert "[intent] 'hola'" in done.stdout
