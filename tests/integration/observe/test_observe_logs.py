"""Structured logs: one JSON object per line, the request id from the HTTP request
to the worker that handles its event, and no personal data on any line."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from saveit.bootstrap import Container
from saveit.events.consumer import Consumer
from saveit.events.processed import SqlProcessedStore
from saveit.observe import logs
from saveit.observe.context import META_KEY
from saveit.store.schema import outbox
from tests.integration.channels.test_webhooks_meta import fixture, graph, meta_app, signed
from tests.recording_http import RecordingServer

__all__ = ["graph", "meta_app"]  # fixtures

NAME, PHONE, EMAIL = "Zacarías Probeta", "600123987", "zacarias.probeta@example.com"
# What the WhatsApp fixture holds about its guest: name, number, words.
WA_PERSONAL = ("María", "Peña", "34600000001", "600000001", "mesa para 4", "Hola")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """This process's logging as production sets it up, into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    logs.configure("json", "DEBUG", stream=buffer)
    yield buffer
    root.handlers[:], root.level = saved[0], saved[1]
    root.setLevel(saved[1])


def wait(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_booking_and_a_webhook_log_json_with_request_ids_and_no_personal_data(
    meta_app: tuple[TestClient, Container], graph: RecordingServer, captured: io.StringIO
) -> None:
    client, container = meta_app
    made = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "name": NAME,
            "phone": PHONE,
            "email": EMAIL,
            "date": "2026-06-03",
            "time": "21:00",
            "party_size": 2,
            "notes": f"call {PHONE}",
        },
        headers={"X-Request-ID": "req-book-1"},
    )
    assert made.status_code == 201, made.text
    assert made.headers["x-request-id"] == "req-book-1"
    body = fixture("whatsapp/text_escaped.json")
    hook = client.post(
        "/webhooks/whatsapp", content=body, headers={**signed(body), "X-Request-ID": "req-hook-1"}
    )
    assert hook.status_code == 200
    wait(lambda: graph.requests)  # the bot answered, behind the acknowledgement
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    assert (
        client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]
        != "bad id\n"
    )

    # The event carries the request id; the notifier handling it logs under it.
    with container.engine.connect() as conn:
        payload = (
            conn.execute(outbox.select().where(outbox.c.type == "reservation.created"))
            .first()
            .payload
        )
    assert payload[META_KEY]["request_id"] == "req-book-1"
    container.relay.publish_pending()
    assert container.notifier is not None
    notifier = Consumer(
        container.bus,
        "notifier",
        container.notifier.handle,
        processed=SqlProcessedStore(container.engine),
        accepts=container.notifier.accepts,
    )
    notifier.poll_once(block_ms=0)
    logging.getLogger("saveit.test").error("guest %s wrote from %s", EMAIL, f"+34 {PHONE}")

    lines = captured.getvalue().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "request_id"} <= r.keys() for r in records)
    text = captured.getvalue()
    for personal in (NAME, "Zacarías", "Probeta", PHONE, EMAIL, *WA_PERSONAL):
        assert personal not in text, personal
    assert any(
        r["request_id"] == "req-book-1" and r["logger"] == "saveit.events.consumer" for r in records
    )
    assert any(r["request_id"] == "req-hook-1" for r in records)  # the bot's send
    assert records[-1]["message"] == "guest <email> wrote from <phone>"


def test_text_format_for_development(captured: io.StringIO) -> None:
    buffer = io.StringIO()
    logs.configure("text", "INFO", stream=buffer)
    logging.getLogger("saveit.test").info("seated table %s at %s", "T4", "2026-06-03T21:00")
    line = buffer.getvalue().strip()
    assert line.endswith("INFO    saveit.test [-] seated table T4 at 2026-06-03T21:00")
