"""Shared helpers of the deployment checks: where the files are and how to find the tools.

The linters come from the ``deploy`` extra (``pip install -e '.[deploy]'``); checkov lives in
its own virtualenv (``deploy/check-infra`` makes it) because its pins clash with pytest's.
A missing tool skips its test, except under ``CI=true``, where ``.ci/run`` installs them all
and a missing one fails the run instead of passing it silently.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip, or fail under CI where everything must run."""
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def tool(name: str, *, extra_dirs: tuple[Path, ...] = ()) -> str:
    """Path of a command-line tool: beside this Python, in ``extra_dirs``, or on PATH."""
    for folder in (Path(sys.executable).parent, *extra_dirs):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (pip install -e '.[deploy]', or deploy/check-infra)")
    assert found is not None
    return found
