"""``saveit worker`` yields the cores to the API across processes, not only among its
own threads: leading its session, it lowers its session's scheduling group."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_metrics_processes import (
    _env,
    _free_port,
    _ready,
    _start_worker,
    _stop,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="the kernel keeps no autogroups"
)


def _group(pid: int) -> tuple[str, int]:
    """A process's session group and its nice value. A process still in the boot
    session's group (a CI runner started without ``setsid``, say) reads an empty
    file: that group has no name and its weight cannot be changed."""
    fields = Path(f"/proc/{pid}/autogroup").read_text().split()
    if not fields:
        return "", 0
    name, _, nice = fields
    return name, int(nice)


def _worker(tmp_path: Path, *, own_session: bool, nice: str) -> tuple[subprocess.Popen[str], Path]:
    port = _free_port()
    log = tmp_path / "worker.log"
    env = _env(  # the embedded default: the worker migrates its SQLite file itself
        SAVEIT_DATA_DIR=str(tmp_path / "data"),
        SAVEIT_WORKER_METRICS_PORT=str(port),
        SAVEIT_WORKER_METRICS_HOST="127.0.0.1",
        SAVEIT_WORKER_GROUP_NICE=nice,
    )
    proc = _start_worker(env, tmp_path, log, own_session=own_session)
    _ready(f"http://127.0.0.1:{port}/metrics", proc, log)
    return proc, log


def test_a_worker_leading_its_session_lowers_its_scheduling_group(tmp_path: Path) -> None:
    proc, log = _worker(tmp_path, own_session=True, nice="7")
    try:
        name, nice = _group(proc.pid)
        assert name != _group(os.getpid())[0]
        assert nice == 7, log.read_text()
        assert "scheduling group runs at nice 7" in log.read_text()
    finally:
        _stop(proc)


def test_a_worker_sharing_a_session_leaves_the_session_alone(tmp_path: Path) -> None:
    """Started from a shell, the worker's group is the shell's (and the API's, if the
    same shell started it): lowering it would lower them all."""
    before = _group(os.getpid())
    proc, log = _worker(tmp_path, own_session=False, nice="7")
    try:
        assert _group(proc.pid) == before, log.read_text()
        assert "scheduling group" not in log.read_text()
    finally:
        _stop(proc)
        if before[0] and _group(os.getpid()) != before:  # the test run's group: put it back
            Path("/proc/self/autogroup").write_text(f"{before[1]}\n")
