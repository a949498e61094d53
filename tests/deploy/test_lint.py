"""Linters over the deployment files: hadolint on the Dockerfile, actionlint on the GitHub
workflow, and both compose files against the Compose specification's schema and through
``podman-compose config`` (which resolves anchors, merges and variables as ``up`` would)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, ROOT, tool

COMPOSE_FILES = ["compose.yaml", "compose.host.yaml"]


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_hadolint_passes_the_dockerfile() -> None:
    done = _run(tool("hadolint"), str(DEPLOY / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dockerfile_runs_as_non_root_with_a_healthcheck_and_three_roles() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("FROM ") >= 2  # build stage, runtime stage
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    entrypoint = (DEPLOY / "entrypoint.sh").read_text(encoding="utf-8")
    for role in ("serve)", "worker)", "smtp)"):
        assert role in entrypoint


def test_actionlint_passes_the_workflow() -> None:
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    done = _run(tool("actionlint"), "-no-color", str(workflow))
    assert done.returncode == 0, done.stdout + done.stderr
    assert ".ci/run" in workflow.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_matches_the_compose_spec(name: str) -> None:
    done = _run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(DEPLOY / name)
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_podman_compose_resolves_the_file(name: str) -> None:
    done = _run(
        tool("podman-compose"),
        "-f",
        str(DEPLOY / name),
        "config",
        env={"SAVEIT_SECRET_KEY": "x" * 32},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    if name == "compose.yaml":
        assert {
            "postgres",
            "redis",
            "api-1",
            "api-2",
            "worker",
            "smtp",
            "prometheus",
            "grafana",
        } <= set(services)
        assert services["api-1"]["command"] == ["serve"]
        assert services["worker"]["command"] == ["worker"]
        assert services["smtp"]["command"] == ["smtp"]
    else:
        assert all(s.get("network_mode") == "host" for s in services.values())
    # the worker yields the cores to the API on a saturated host
    assert int(services["worker"]["cpu_shares"]) < int(services["api-1"].get("cpu_shares", 1024))


def test_a_compose_file_without_the_secret_key_is_refused() -> None:
    """Production containers must not start with the development secret."""
    env = {k: v for k, v in os.environ.items() if k != "SAVEIT_SECRET_KEY"}
    done = subprocess.run(
        [tool("podman-compose"), "-f", str(DEPLOY / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode != 0
    assert "SAVEIT_SECRET_KEY" in done.stdout + done.stderr
