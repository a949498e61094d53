"""Traces: one trace from a webhook's request span through the database, the stored
message, the worker that answers it, to the provider-send span; and the outbox
event carries the booking request's trace to the consumer that handles it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.domain.events import Event
from saveit.events.consumer import Consumer
from saveit.events.processed import MemoryProcessedStore
from saveit.observe import tracing
from saveit.observe.context import META_KEY
from saveit.store.schema import outbox
from tests.integration.channels.test_webhooks_meta import (
    SECRET,
    WA_NUMBER_ID,
    fixture,
    graph,
    signed,
)
from tests.integration.conftest import channel_app
from tests.recording_http import RecordingServer
from tests.support import FakeClock

__all__ = ["graph"]  # fixture


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(processor=SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()


@pytest.fixture
def traced_app(
    spans: InMemorySpanExporter, settings: Settings, clock: FakeClock, graph: RecordingServer
) -> Iterator[tuple[TestClient, Container]]:
    with channel_app(
        settings,
        clock,
        {"whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"}},
        meta_app_secret=SecretStr(SECRET.decode()),
        graph_api_base=graph.url,
    ) as running:
        yield running


def wait(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_one_trace_from_the_webhook_to_the_provider_send(
    traced_app: tuple[TestClient, Container],
    graph: RecordingServer,
    spans: InMemorySpanExporter,
) -> None:
    client, _ = traced_app
    body = fixture("whatsapp/text_escaped.json")
    assert client.post("/webhooks/whatsapp", content=body, headers=signed(body)).status_code == 200
    wait(lambda: any(s.name == "channel.send" for s in spans.get_finished_spans()))
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.name == "POST /webhooks/whatsapp" and s.parent is None]
    trace_id = request.context.trace_id
    [send] = [s for s in finished if s.name == "channel.send"]
    assert send.context.trace_id == trace_id
    assert send.attributes["channel"] == "whatsapp"
    [reply] = [s for s in finished if s.name == "bot.reply"]
    assert reply.context.trace_id == trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    assert any(s.attributes.get("db.statement", "").startswith("INSERT") for s in in_trace)
    # The provider call itself (httpx) is a child of the send, carrying the trace on.
    assert any(s.parent is not None and s.parent.span_id == send.context.span_id for s in in_trace)
    assert graph.requests[0].headers["traceparent"].split("-")[1] == f"{trace_id:032x}"


def test_the_outbox_event_carries_the_request_trace_to_its_consumer(
    traced_app: tuple[TestClient, Container], spans: InMemorySpanExporter
) -> None:
    client, container = traced_app
    made = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "name": "Ana",
            "phone": "600111222",
            "date": "2026-06-03",
            "time": "21:00",
            "party_size": 2,
        },
    )
    assert made.status_code == 201
    [request] = [
        s
        for s in spans.get_finished_spans()
        if s.name == "POST /v1/restaurants/{slug}/reservations" and s.parent is None
    ]
    trace_id = request.context.trace_id
    with container.engine.connect() as conn:
        payload = (
            conn.execute(outbox.select().where(outbox.c.type == "reservation.created"))
            .first()
            .payload
        )
    assert payload[META_KEY]["traceparent"].split("-")[1] == f"{trace_id:032x}"
    container.relay.publish_pending()
    seen: list[int] = []

    def handler(_: Event) -> None:
        with tracing.span("handled"):
            pass

    container.bus.ensure_group("traced")
    Consumer(container.bus, "traced", handler, processed=MemoryProcessedStore()).poll_once(
        block_ms=0
    )
    seen = [s.context.trace_id for s in spans.get_finished_spans() if s.name == "handled"]
    assert trace_id in seen


_GLOBAL_PROVIDER_SCRIPT = """
import json
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from saveit.api.app import create_app_from_env

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with TestClient(create_app_from_env()) as api:
    statuses = [api.get("/healthz").status_code, api.get("/v1/restaurants/none").status_code]
print(json.dumps({"statuses": statuses, "spans": [s.name for s in exporter.get_finished_spans()]}))
"""


def test_a_global_opentelemetry_provider_gets_no_second_span_per_request(
    tmp_path: Path,
) -> None:
    """Where a process-wide provider is set (auto-instrumentation does so), FastAPI's
    own telemetry made a span per request in it, beside SaveIt's own tracing and
    unlinked from it. Fails with FastAPI's telemetry left on (it made spans for both).
    A fresh interpreter: the global provider can be set once per process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAVEIT_", "OTEL_"))}
    env |= {"SAVEIT_DATA_DIR": str(tmp_path), "SAVEIT_SECRET_KEY": "t-" + "k" * 32}
    done = subprocess.run(
        [sys.executable, "-c", _GLOBAL_PROVIDER_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"statuses": [200, 404], "spans": []}
