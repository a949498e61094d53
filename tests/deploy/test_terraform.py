"""The Terraform under deploy/terraform, checked offline (no provider can be downloaded here):
every file parses, every module call passes only variables the module declares and every
variable it requires, every ``module.x.y`` names an output module x has, every ``var.x``
names a declared variable, and checkov finds nothing outside the documented skips."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, ROOT, tool, unavailable

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 comes with the deploy extra")

TERRAFORM = DEPLOY / "terraform"
ROOT_MODULE = TERRAFORM / "envs" / "production"
MODULES = ("network", "database", "cache", "compute", "secrets", "observability")
META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def _plain(value: Any) -> Any:
    """python-hcl2 8 keeps the quotes of block labels and string literals
    (``'"s3"'``), earlier releases (and the fork checkov brings) drop them: read
    both the same way."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _load(handle: Any) -> Any:
    return _plain(hcl2.load(handle))


def _one(value: Any) -> Any:
    """python-hcl2 wraps attribute values in one-element lists; unwrap them."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _blocks(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            for block in _load(handle).get(kind, []):
                for name, body in block.items():
                    assert name not in found, f"{kind} {name} declared twice in {folder}"
                    found[name] = body
    return found


def _text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.tf")))


def test_every_tf_file_parses() -> None:
    files = sorted(TERRAFORM.rglob("*.tf"))
    assert len(files) >= 6 * 3 + 4
    for path in files:
        with path.open(encoding="utf-8") as handle:
            assert _load(handle), path


def test_the_modules_asked_for_exist_with_variables_and_outputs() -> None:
    for name in MODULES:
        folder = TERRAFORM / "modules" / name
        assert _blocks(folder, "variable"), name
        assert _blocks(folder, "output"), name


def test_the_root_wires_every_module_call_to_declared_variables_and_outputs() -> None:
    calls = _blocks(ROOT_MODULE, "module")
    assert set(calls) == set(MODULES)
    outputs: dict[str, set[str]] = {}
    for call, body in calls.items():
        folder = (ROOT_MODULE / _one(body["source"])).resolve()
        assert folder.is_dir(), f"module {call}: no folder {folder}"
        declared = _blocks(folder, "variable")
        given = {key for key in body if not key.startswith("__")} - META_ARGUMENTS
        unknown = given - set(declared)
        assert not unknown, f"module {call} is given undeclared variables {sorted(unknown)}"
        required = {name for name, spec in declared.items() if "default" not in spec}
        missing = required - given
        assert not missing, f"module {call} lacks required variables {sorted(missing)}"
        outputs[call] = set(_blocks(folder, "output"))

    references = set(re.findall(r"\bmodule\.(\w+)\.(\w+)", _text(ROOT_MODULE)))
    assert references, "the root passes nothing between modules"
    for module, output in sorted(references):
        assert module in outputs, f"module.{module} is not called"
        assert output in outputs[module], f"module.{module}.{output}: no such output"


@pytest.mark.parametrize("folder", [ROOT_MODULE, *(TERRAFORM / "modules" / m for m in MODULES)])
def test_every_var_and_local_reference_is_declared(folder: Path) -> None:
    text = _text(folder)
    declared = set(_blocks(folder, "variable"))
    used = set(re.findall(r"\bvar\.(\w+)", text))
    assert used <= declared, f"{folder.name}: undeclared {sorted(used - declared)}"
    unused = declared - used
    assert not unused, f"{folder.name}: declared but never used {sorted(unused)}"
    local_names: set[str] = set()
    for path in sorted(folder.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            for block in _load(handle).get("locals", []):
                local_names |= {k for k in block if not k.startswith("__")}
    used_locals = set(re.findall(r"\blocal\.(\w+)", text))
    assert used_locals <= local_names, f"{folder.name}: undefined {used_locals - local_names}"


def test_state_is_remote_in_s3_with_a_dynamodb_lock() -> None:
    with (ROOT_MODULE / "versions.tf").open(encoding="utf-8") as handle:
        settings = _load(handle)["terraform"][0]
    backend = _one(settings["backend"])
    s3 = _one(backend["s3"]) if isinstance(backend, dict) else backend
    assert _one(s3["encrypt"]) is True
    assert _one(s3["dynamodb_table"])
    assert _one(s3["bucket"])


def test_the_database_is_multi_az_encrypted_backed_up_postgres_15() -> None:
    db = _text(TERRAFORM / "modules" / "database")
    assert re.search(r"multi_az\s*=\s*true", db)
    assert re.search(r"storage_encrypted\s*=\s*true", db)
    assert re.search(r'family\s*=\s*"postgres15"', db)
    cache = _text(TERRAFORM / "modules" / "cache")
    for setting in (
        "at_rest_encryption_enabled",
        "transit_encryption_enabled",
        "automatic_failover_enabled",
        "multi_az_enabled",
    ):
        assert re.search(rf"{setting}\s*=\s*true", cache), setting


def test_every_saveit_secret_is_in_secrets_manager() -> None:
    text = _text(TERRAFORM / "modules" / "secrets")
    for name in (
        "SAVEIT_SECRET_KEY",
        "SAVEIT_ADMIN_TOKEN",
        "SAVEIT_QR_KEYS",
        "SAVEIT_META_APP_SECRET",
        "SAVEIT_META_VERIFY_TOKEN",
        "SAVEIT_TWILIO_AUTH_TOKEN",
        "SAVEIT_DATABASE_URL",
        "SAVEIT_REDIS_URL",
    ):
        assert f'"{name}"' in text or f"{name} " in text, name


def _checkov() -> str:
    return tool("checkov", extra_dirs=(ROOT / ".venv-checkov" / "bin",))


def test_checkov_finds_nothing_but_documented_skips() -> None:
    """Offline checkov reports no severities (they come from its hosted platform), so every
    failed check fails this test, not only HIGH/CRITICAL ones."""
    done = subprocess.run(
        [
            _checkov(),
            "-d",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    if not done.stdout.strip():
        unavailable(f"checkov printed nothing: {done.stderr[-500:]}")
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 100
    for r in reports:
        for c in r.get("results", {}).get("skipped_checks", []):
            reason = (c.get("check_result") or {}).get("suppress_comment", "")
            assert len(reason) > 20, (
                f"{c['check_id']} on {c['resource']} is skipped without a reason"
            )


def test_checkov_passes_the_dockerfile_and_the_workflow() -> None:
    for target in (
        ["-f", str(DEPLOY / "Dockerfile"), "--framework", "dockerfile"],
        ["-d", str(ROOT / ".github"), "--framework", "github_actions"],
    ):
        done = subprocess.run(
            [_checkov(), *target, "-o", "json", "--quiet", "--compact", "--skip-download"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=ROOT,
        )
        report = json.loads(done.stdout or "{}")
        reports = report if isinstance(report, list) else [report]
        failed = [
            c["check_id"] for r in reports for c in r.get("results", {}).get("failed_checks", [])
        ]
        assert not failed, (target, failed)


def test_the_worker_metrics_port_is_the_one_the_worker_serves() -> None:
    """Prometheus, the security groups and the ECS task must point where ``saveit
    worker`` actually listens, or its metrics (and the double-booking alarm) vanish."""
    import yaml

    from saveit.config import Settings

    port = Settings.model_fields["worker_metrics_port"].default
    for module in ("compute", "network"):
        variables = _blocks(TERRAFORM / "modules" / module, "variable")
        assert _one(variables["metrics_port"]["default"]) == port, module
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = [
        target
        for job in scrape["scrape_configs"]
        for group in job.get("static_configs", [])
        for target in group["targets"]
        if target.startswith("worker:")
    ]
    assert targets == [f"worker:{port}"]
