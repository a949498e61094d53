"""Which background parts each process runs (saveit.runtime.Plan), from the settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from typer.testing import CliRunner

from saveit.cli import app
from saveit.config import Settings
from saveit.runtime import Plan, Relay, WorkerPart

REDIS = "redis://127.0.0.1:6379/0"


def _settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "redis_url": None,
        "relay_in_process": None,
        "channel_workers_in_api": None,
    }
    return Settings(**(defaults | values))


def test_the_embedded_api_process_runs_what_a_worker_would() -> None:
    assert Plan.api(_settings()) == Plan(
        relay=Relay.THREAD,
        notifications=True,
        waitlist=True,
        analytics=True,
        auditor=True,
        channel_workers=True,
        live_hub=True,
        invalidation=True,
    )


def test_with_redis_the_api_process_leaves_the_work_to_the_worker() -> None:
    # The live hub and the cache's invalidation: every process needs its own.
    assert Plan.api(_settings(redis_url=REDIS)) == Plan(live_hub=True, invalidation=True)


def test_the_settings_may_keep_parts_in_the_api_process() -> None:
    answering = Plan.api(_settings(redis_url=REDIS, channel_workers_in_api=True))
    assert answering == Plan(channel_workers=True, live_hub=True, invalidation=True)
    relaying = Plan.api(_settings(redis_url=REDIS, relay_in_process=True))
    assert relaying == Plan.api(_settings())


def test_the_worker_runs_every_part_once_and_the_relay_in_the_foreground() -> None:
    assert Plan.worker(_settings(channel_workers_nice=7, consumers_nice=5)) == Plan(
        relay=Relay.FOREGROUND,
        notifications=True,
        waitlist=True,
        analytics=True,
        auditor=True,
        channel_workers=True,
        channel_workers_nice=7,
        consumers_nice=5,
        metrics_server=True,
    )


def test_smtp_only_answers_what_it_stores() -> None:
    assert Plan.smtp() == Plan(channel_workers=True)


def test_a_worker_split_in_two_runs_every_part_once_between_them() -> None:
    settings = _settings(channel_workers_nice=7, consumers_nice=5)
    events = Plan.worker(settings, frozenset({WorkerPart.EVENTS}))
    channels = Plan.worker(settings, frozenset({WorkerPart.CHANNELS}))
    assert events == replace(Plan.worker(settings), channel_workers=False)
    assert channels == Plan(
        channel_workers=True, channel_workers_nice=7, consumers_nice=5, metrics_server=True
    )


def test_worker_only_takes_a_part_by_name() -> None:
    result = CliRunner().invoke(app, ["worker", "--only", "everything"])
    assert result.exit_code == 2
    assert "'events'" in result.output
    assert "'channels'" in result.output
