"""Provider webhooks are answered before routing (``saveit.api.webhook_lane``),
with the routed endpoint's answers: the same acknowledgement, the same problem
documents, counted under the route's template. The routed endpoint is seen
through its container dependency, which only it resolves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from saveit.api.deps import container_of
from saveit.bootstrap import Container
from tests.integration.channels.test_webhooks_meta import (
    VERIFY,
    fixture,
    graph,
    inbound,
    meta_app,
    signed,
)
from tests.metrics_support import value

__all__ = ["graph", "meta_app"]  # fixtures

ROUTE = "/webhooks/whatsapp"


@pytest.fixture
def routed(meta_app: tuple[TestClient, Container]) -> Iterator[list[str]]:
    """The paths the routed endpoints were reached for (their container dependency)."""
    client, container = meta_app
    seen: list[str] = []

    async def counting(request: Request) -> Container:
        seen.append(f"{request.method} {request.url.path}")
        return container

    client.app.dependency_overrides[container_of] = counting  # type: ignore[attr-defined]
    yield seen
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_a_webhook_is_acknowledged_before_routing_and_counted_under_its_route(
    meta_app: tuple[TestClient, Container], routed: list[str]
) -> None:
    client, container = meta_app
    body = fixture("whatsapp/text_escaped.json")
    before = client.get("/metrics").text
    first = client.post(ROUTE, content=body, headers=signed(body))
    again = client.post(ROUTE, content=body, headers=signed(body))
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json() == {"stored": 1, "duplicates": 0, "statuses": 0, "ignored": 0}
    assert again.json() == {"stored": 0, "duplicates": 1, "statuses": 0, "ignored": 0}
    assert first.headers["x-request-id"]
    assert routed == []
    assert len(inbound(container)) == 1
    after = client.get("/metrics").text
    labels = {"method": "POST", "route": ROUTE, "status": "200"}
    requests = "saveit_http_requests_total"
    assert value(after, requests, **labels) - value(before, requests, **labels) == 2
    # The handshake is a GET: the routed endpoint answers it, as before.
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"}
    assert client.get(ROUTE, params=params).text == "42"
    assert routed == [f"GET {ROUTE}"]


def test_a_refused_webhook_gets_the_apps_problem_document_and_stores_nothing(
    meta_app: tuple[TestClient, Container], routed: list[str]
) -> None:
    client, container = meta_app
    body = fixture("whatsapp/text_escaped.json")
    tampered = client.post(ROUTE, content=body.replace(b"21:00", b"22:00"), headers=signed(body))
    assert tampered.status_code == 401
    assert tampered.headers["content-type"] == "application/problem+json"
    assert tampered.json()["code"] == "INVALID_SIGNATURE"
    malformed = b'{"object": "whatsapp_business_account", "entry": "not a list"}'
    broken = client.post(ROUTE, content=malformed, headers=signed(malformed))
    assert broken.status_code == 400
    assert broken.headers["content-type"] == "application/problem+json"
    assert routed == []
    assert inbound(container) == []


def test_a_webhook_answered_before_routing_still_passes_every_guard(
    meta_app: tuple[TestClient, Container], routed: list[str]
) -> None:
    """The lane sits behind the app's guards: a header flood, a NUL character and
    an oversized body are refused as anywhere else, and nothing is stored."""
    client, container = meta_app
    settings = container.settings
    body = fixture("whatsapp/text_escaped.json")
    flood = signed(body) | {f"x-pad-{i}": "1" for i in range(settings.max_header_count)}
    too_many = client.post(ROUTE, content=body, headers=flood)
    assert too_many.status_code == 431
    assert too_many.json()["code"] == "HEADERS_TOO_LARGE"
    assert too_many.headers["x-request-id"]  # Observe is the outermost of them
    nul = body.replace(b"21:00", b"21:00\\u0000")
    assert client.post(ROUTE, content=nul, headers=signed(nul)).json()["code"] == (
        "VALIDATION_ERROR"
    )
    big = b'{"object":"whatsapp_business_account","pad":"' + b"x" * settings.max_body_bytes + b'"}'
    assert client.post(ROUTE, content=big, headers=signed(big)).status_code == 413
    assert routed == []
    assert inbound(container) == []
