"""A guest's new booking is answered before routing (``saveit.api.booking_lane``)
with the routed endpoint's answers: the same documents and headers, the same problem
documents, counted under the route's template; and whatever the lane does not take
reaches the routed endpoint with its body intact. The routed endpoint is seen
through its container dependency, which only it resolves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.api.booking_lane import BookingLane
from saveit.api.deps import container_of
from saveit.bootstrap import Container
from tests.metrics_support import value

URL = "/v1/restaurants/demo/reservations"
ROUTE = "/v1/restaurants/{slug}/reservations"
ANA = {"name": "Ana", "phone": "600111222", "date": "2026-06-03", "time": "21:00"}


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


@pytest.fixture
def routed(api: TestClient, container: Container) -> Iterator[list[str]]:
    """The paths the routed endpoints were reached for (their container dependency)."""
    seen: list[str] = []

    async def counting(request: Request) -> Container:
        seen.append(f"{request.method} {request.url.path}")
        return container

    api.app.dependency_overrides[container_of] = counting  # type: ignore[attr-defined]
    yield seen
    api.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_a_booking_is_made_before_routing_and_counted_under_its_route(
    api: TestClient, routed: list[str]
) -> None:
    before = api.get("/metrics").text
    made = api.post(URL, json={**ANA, "party_size": 2})
    assert made.status_code == 201
    assert made.headers["content-type"] == "application/json"
    document = made.json()
    code = document["reservation"]["code"]
    assert made.headers["location"] == f"/v1/reservations/{code}"
    assert made.headers["etag"] == '"1"'
    assert made.headers["x-request-id"]
    assert document["reservation"]["start"].endswith("+02:00")
    assert document["manage_token"]
    key = {"Idempotency-Key": "lane-1"}
    first = api.post(URL, json={**ANA, "party_size": 3}, headers=key)
    again = api.post(URL, json={**ANA, "party_size": 3}, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["reservation"] == first.json()["reservation"]
    assert routed == []
    after = api.get("/metrics").text
    labels = {"method": "POST", "route": ROUTE}
    made_total = value(after, "saveit_http_requests_total", **labels, status="201") - value(
        before, "saveit_http_requests_total", **labels, status="201"
    )
    assert made_total == 2
    # The booking is the engine's: it took its time out of availability.
    times = api.get(
        "/v1/restaurants/demo/availability", params={"date": "2026-06-03", "party_size": 2}
    ).json()["slots"]
    assert isinstance(times, list)


def test_a_refused_booking_gets_the_apps_problem_document(
    api: TestClient, routed: list[str]
) -> None:
    for _ in range(2):
        assert api.post(URL, json={**ANA, "party_size": 6}).status_code == 201
    taken = api.post(URL, json={**ANA, "party_size": 6})
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["code"] == "SLOT_TAKEN"
    assert all(a.endswith("+02:00") for a in taken.json()["alternatives"])
    nowhere = api.post("/v1/restaurants/nowhere/reservations", json={**ANA, "party_size": 2})
    assert nowhere.status_code == 404
    assert nowhere.headers["content-type"] == "application/problem+json"
    closed = api.post(URL, json={**ANA, "time": "17:00", "party_size": 2})
    assert closed.status_code == 422
    assert closed.json()["code"] == "OUTSIDE_OPENING_HOURS"
    assert routed == []


BOOKING = b'{"name": "Ana", "phone": "600111222", "date": "2026-06-03", "time": "21:00", '


@pytest.mark.parametrize(
    ("content", "headers", "error"),
    [
        (BOOKING + b'"party_size": 0}', {}, ("greater_than_equal", ["body", "party_size"])),
        (b'{"name": "Ana",', {}, ("json_invalid", ["body", "15"])),
        (b"[1, 2]", {}, ("model_attributes_type", ["body"])),
        (BOOKING + b'"party_size": 2}', {"Content-Type": "text/plain"}, None),
        (BOOKING + b'"party_size": 2}', {"Idempotency-Key": "k" * 201}, None),
    ],
)
def test_what_the_lane_does_not_take_the_endpoint_answers_as_before(
    api: TestClient,
    routed: list[str],
    content: bytes,
    headers: dict[str, str],
    error: tuple[str, list[object]] | None,
) -> None:
    """FastAPI's own validation answers, from the body the lane read first: where it
    failed in that body (``loc``) shows the body reached it whole."""
    answer = api.post(URL, content=content, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "VALIDATION_ERROR"
    first = answer.json()["errors"][0]
    if error is not None:
        assert (first["type"], first["loc"]) == error
    else:
        assert first["loc"][0] in {"body", "header"}
    assert api.get("/v1/restaurants/demo/availability?date=2026-06-03&party_size=2").status_code


def test_a_body_cut_short_by_a_disconnect_is_handed_on_as_it_came(
    container: Container, demo: str
) -> None:
    """The routed endpoint sees what it would have seen without the lane: part of a
    body that says more was coming, then the disconnect; nothing is answered."""
    reached: list[object] = []

    async def inner(scope: object, receive: object, send: object) -> None:
        reached.append(await receive())  # type: ignore[operator]
        reached.append(await receive())  # type: ignore[operator]

    lane = BookingLane(inner, container=container, handlers={})
    messages = [
        {"type": "http.request", "body": BOOKING, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: object) -> None:
        raise AssertionError("nothing is answered to a guest who left")

    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "headers": [(b"content-type", b"application/json")],
    }
    asyncio.run(lane(scope, receive, send))
    assert reached == [
        {"type": "http.request", "body": BOOKING, "more_body": True},
        {"type": "http.disconnect"},
    ]
