"""Alerts, dashboard and CloudWatch alarms against the metrics contract (deploy/METRICS.md):
they use only the contract's names, the rules are well-formed (and pass ``promtool`` where
Debian's prometheus package provides it), every alert names a runbook that exists, and the
brief's targets each have an alert."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import DEPLOY, ROOT, unavailable

CONTRACT = {
    "saveit_http_requests_total": {"method", "route", "status"},
    "saveit_http_request_duration_seconds": {"method", "route"},
    "saveit_bookings_total": {"outcome"},
    "saveit_booking_refusals_total": {"code"},
    "saveit_claim_conflicts_total": set(),
    "saveit_db_transaction_duration_seconds": set(),
    "saveit_availability_cache_total": {"result"},
    "saveit_outbox_backlog": set(),
    "saveit_relay_lag_seconds": set(),
    "saveit_consumer_lag": {"group"},
    "saveit_dead_letters_total": set(),
    "saveit_webhooks_total": {"channel", "outcome"},
    "saveit_channel_sends_total": {"channel", "outcome"},
    "saveit_bot_reply_duration_seconds": set(),
    "saveit_circuit_breaker_open": {"name"},
    "saveit_scheduler_runs_total": {"job"},
    "saveit_double_bookings_detected": set(),
}
HISTOGRAMS = {name for name in CONTRACT if name.endswith("_seconds") and "duration" in name}
ALERTS = DEPLOY / "prometheus" / "alerts.yml"


def _series(expr: str) -> set[str]:
    """Metric names an expression reads, with histogram suffixes folded onto their base."""
    names = set(re.findall(r"\bsaveit_[a-z_]+", expr))
    return {
        re.sub(r"_(bucket|sum|count)$", "", n)
        if n.endswith(("_bucket", "_sum", "_count"))
        and re.sub(r"_(bucket|sum|count)$", "", n) in HISTOGRAMS
        else n
        for n in names
    }


def _rules() -> list[dict[str, object]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_metrics_md_states_exactly_the_contract() -> None:
    text = (DEPLOY / "METRICS.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(saveit_[a-z_]+)` \|", text, flags=re.M))
    assert table == set(CONTRACT)
    for name, labels in CONTRACT.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert set(re.findall(r"`([a-z_]+)`", row.split("|")[3])) == labels, name


def test_alert_rules_are_well_formed_and_use_only_contract_metrics() -> None:
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]  # type: ignore[index]
        annotations = rule["annotations"]
        assert isinstance(annotations, dict), rule["alert"]
        assert annotations.get("summary"), rule["alert"]
        runbook = ROOT / str(annotations["runbook"])
        assert runbook.is_file(), f"{rule['alert']}: {runbook} missing"
        expr = str(rule["expr"])
        assert expr.count("(") == expr.count(")"), rule["alert"]
        used = _series(expr)
        assert used <= set(CONTRACT), f"{rule['alert']} reads {sorted(used - set(CONTRACT))}"
        for name in used:
            for label in re.findall(rf"{name}(?:_bucket)?\{{([^}}]*)\}}", expr):
                keys = set(re.findall(r"(\w+)\s*[=!]~?", label))
                assert keys <= CONTRACT[name] | {"le"}, f"{rule['alert']}: {name}{{{label}}}"


def test_each_target_of_the_brief_has_an_alert() -> None:
    by_metric: dict[str, list[str]] = {}
    for rule in _rules():
        for name in _series(str(rule["expr"])):
            by_metric.setdefault(name, []).append(str(rule["alert"]))
    for metric in (
        "saveit_http_request_duration_seconds",
        "saveit_http_requests_total",
        "saveit_double_bookings_detected",
        "saveit_outbox_backlog",
        "saveit_relay_lag_seconds",
        "saveit_consumer_lag",
        "saveit_dead_letters_total",
        "saveit_webhooks_total",
        "saveit_channel_sends_total",
        "saveit_bot_reply_duration_seconds",
        "saveit_circuit_breaker_open",
    ):
        assert metric in by_metric, f"no alert reads {metric}"
    double = next(r for r in _rules() if r["alert"] == "DoubleBookingDetected")
    assert "> 0" in str(double["expr"])
    assert "for" not in double
    bot = next(r for r in _rules() if r["alert"] == "BotReplySlow")
    assert "> 5" in str(bot["expr"])


def test_promtool_accepts_the_rules_and_the_scrape_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (apt-get install prometheus)")
    assert promtool is not None
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout
    # the scrape config names the rules at their path inside the container; point it here
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/alerts.yml", str(ALERTS)), encoding="utf-8"
    )
    done = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_reads_only_contract_metrics_from_the_provisioned_source() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "saveit.json").read_text())
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = datasources["datasources"][0]["uid"]
    seen: set[str] = set()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            used = _series(target["expr"])
            assert used, panel["title"]
            assert used <= set(CONTRACT), (panel["title"], used)
            seen |= used
    assert seen == set(CONTRACT), f"not on the dashboard: {sorted(set(CONTRACT) - seen)}"
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "saveit.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_cloudwatch_alarms_include_double_booking_and_name_existing_runbooks() -> None:
    text = (DEPLOY / "terraform" / "modules" / "observability" / "main.tf").read_text()
    assert "DoubleBookingDetected" in text
    for runbook in set(re.findall(r"docs/runbooks/[a-z0-9-]+\.md", text)):
        assert (ROOT / runbook).is_file(), runbook
