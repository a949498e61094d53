"""Bad input, infrastructure failures and the service endpoints: every failure is a
problem+json 4xx/5xx that changes nothing, and never a 500 for a client's mistake."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.store.schema import reservations
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GOOD: dict[str, Any] = {
    "date": "2026-06-03",
    "time": "21:00",
    "party_size": 2,
    "name": "Ana",
    "phone": "600111222",
}
BOOK = "/v1/restaurants/demo/reservations"
AVAILABILITY = "/v1/restaurants/demo/availability"
INVALID = "VALIDATION_ERROR"


def without(*keys: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k not in keys}


def starting(start: str) -> dict[str, Any]:
    return {**without("date", "time"), "start": start}


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def count_reservations(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    return body


BAD_BOOKINGS: list[tuple[str, dict[str, Any], str]] = [
    ("party size as words", {**GOOD, "party_size": "four"}, INVALID),
    ("party size as a string", {**GOOD, "party_size": "2"}, INVALID),
    ("fractional party size", {**GOOD, "party_size": 2.5}, INVALID),
    ("boolean party size", {**GOOD, "party_size": True}, INVALID),
    ("negative party size", {**GOOD, "party_size": -3}, INVALID),
    ("zero party size", {**GOOD, "party_size": 0}, INVALID),
    ("huge party size", {**GOOD, "party_size": 10**12}, INVALID),
    ("impossible date", {**GOOD, "date": "2026-02-30"}, INVALID),
    ("impossible time", {**GOOD, "time": "25:00"}, INVALID),
    ("date without time", without("time"), INVALID),
    ("no time at all", without("date", "time"), INVALID),
    ("naive start", starting("2026-06-03T21:00:00"), INVALID),
    ("garbage start", starting("tomorrow-ish"), INVALID),
    ("both start and date", {**GOOD, "start": "2026-06-03T21:00:00+02:00"}, INVALID),
    ("time with an offset", {**GOOD, "time": "21:00+02:00"}, INVALID),
    ("time that does not exist", {**GOOD, "date": "2026-03-29", "time": "02:30"}, INVALID),
    ("unknown field", {**GOOD, "vip": True}, INVALID),
    ("missing name", without("name"), INVALID),
    ("name as a number", {**GOOD, "name": 7}, INVALID),
    ("no way to reach the guest", without("phone"), INVALID),
    ("bad phone", {**GOOD, "phone": "call me maybe"}, INVALID),
    ("bad email", {**GOOD, "phone": None, "email": "not-an-email"}, INVALID),
    ("unsupported language", {**GOOD, "language": "fr"}, INVALID),
    ("unknown source", {**GOOD, "source": "pigeon"}, INVALID),
    ("tables as a string", {**GOOD, "tables": "T1"}, INVALID),
    ("overlong notes", {**GOOD, "notes": "x" * 5000}, INVALID),
    ("a list instead of an object", [GOOD], INVALID),
    ("null body", None, INVALID),
]


@pytest.mark.parametrize(
    ("body", "code"), [case[1:] for case in BAD_BOOKINGS], ids=[case[0] for case in BAD_BOOKINGS]
)
def test_bad_booking_requests_are_422_and_book_nothing(
    api: TestClient, container: Container, body: Any, code: str
) -> None:
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if v is not None}
    response = api.post(
        BOOK, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422, code)
    if "errors" in problem:
        assert all({"loc", "msg"} <= set(e) for e in problem["errors"])
    assert count_reservations(container) == 0


HUGE = json.dumps({**GOOD, "notes": "x" * 70_000}).encode()
FORM = "application/x-www-form-urlencoded"
RAW_BODIES: list[tuple[str, bytes, str, int, str]] = [
    ("invalid JSON", b'{"party_size": ', "application/json", 422, INVALID),
    ("not UTF-8", b'{"name": "\xff\xfe"}', "application/json", 422, INVALID),
    ("not JSON at all", b"party_size=2", FORM, 422, INVALID),
    ("JSON as text/plain", json.dumps(GOOD).encode(), "text/plain", 422, INVALID),
    ("oversized body", HUGE, "application/json", 413, "PAYLOAD_TOO_LARGE"),
]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [case[1:] for case in RAW_BODIES],
    ids=[case[0] for case in RAW_BODIES],
)
def test_unreadable_bodies_are_refused(
    api: TestClient,
    container: Container,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = api.post(BOOK, content=content, headers={"content-type": content_type})
    assert_problem(response, status, code)
    assert count_reservations(container) == 0


def test_an_oversized_body_without_a_length_is_counted_and_refused(
    api: TestClient, container: Container
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"notes": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = api.post(BOOK, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert count_reservations(container) == 0


BAD_QUERIES: list[tuple[str, str, int, str]] = [
    ("impossible date", f"{AVAILABILITY}?date=2026-02-30&party_size=2", 422, INVALID),
    ("no date", f"{AVAILABILITY}?party_size=2", 422, INVALID),
    ("party of words", f"{AVAILABILITY}?date=2026-06-03&party_size=two", 422, INVALID),
    ("negative party", f"{AVAILABILITY}?date=2026-06-03&party_size=-1", 422, INVALID),
    ("huge party", f"{AVAILABILITY}?date=2026-06-03&party_size=99999999999999999999", 422, INVALID),
    (
        "unknown restaurant",
        "/v1/restaurants/nowhere/availability?date=2026-06-03&party_size=2",
        404,
        "NOT_FOUND",
    ),
    ("unknown restaurant profile", "/v1/restaurants/nowhere", 404, "NOT_FOUND"),
    ("unknown route", "/v1/nothing-here", 404, "NOT_FOUND"),
]


@pytest.mark.parametrize(
    ("url", "status", "code"), [c[1:] for c in BAD_QUERIES], ids=[c[0] for c in BAD_QUERIES]
)
def test_bad_queries_are_problems(api: TestClient, url: str, status: int, code: str) -> None:
    assert_problem(api.get(url), status, code)


def test_unknown_restaurant_or_reservation_is_404(api: TestClient, container: Container) -> None:
    assert_problem(api.post("/v1/restaurants/nowhere/reservations", json=GOOD), 404, "NOT_FOUND")
    assert_problem(api.get("/v1/reservations/NOSUCH00", headers=ADMIN), 404, "NOT_FOUND")
    assert_problem(api.delete("/v1/restaurants/demo"), 405, "METHOD_NOT_ALLOWED")
    assert count_reservations(container) == 0


def test_bad_headers_are_422(api: TestClient, container: Container) -> None:
    long_key = api.post(BOOK, json=GOOD, headers={"Idempotency-Key": "k" * 201})
    assert_problem(long_key, 422, INVALID)
    channel = api.post(BOOK, json=GOOD, headers={"X-SaveIt-Channel": "carrier-pigeon"})
    assert_problem(channel, 422, INVALID)
    assert count_reservations(container) == 0
    made = api.post(BOOK, json=GOOD).json()
    code, token = made["reservation"]["code"], made["manage_token"]
    bad_match = api.patch(
        f"/v1/reservations/{code}",
        json={"notes": "x"},
        headers={"X-Manage-Token": token, "If-Match": "yesterday"},
    )
    assert_problem(bad_match, 422, INVALID)
    bad_patch = api.patch(
        f"/v1/reservations/{code}", json={"party_size": -2}, headers={"X-Manage-Token": token}
    )
    assert_problem(bad_patch, 422, INVALID)
    seen = api.get(f"/v1/reservations/{code}", headers={"X-Manage-Token": token}).json()
    assert seen["version"] == 1
    assert seen["notes"] == ""


def test_bad_configuration_is_refused_and_changes_nothing(api: TestClient) -> None:
    bad_zone = api.patch("/v1/restaurants/demo", json={"timezone": "Mars/Olympus"}, headers=ADMIN)
    assert_problem(bad_zone, 422, INVALID)
    new = {"slug": "Bad Slug!", "name": "x"}
    assert_problem(api.post("/v1/restaurants", json=new, headers=ADMIN), 422, INVALID)
    zone = {"slug": "moon", "name": "x", "timezone": "Moon/Base"}
    assert_problem(api.post("/v1/restaurants", json=zone, headers=ADMIN), 422, INVALID)
    bad_table = api.put(
        "/v1/restaurants/demo/tables/T1",
        json={"min_capacity": 6, "max_capacity": 2},
        headers=ADMIN,
    )
    assert_problem(bad_table, 422, INVALID)
    bad_code = api.put(
        "/v1/restaurants/demo/tables/bad%20code", json={"max_capacity": 2}, headers=ADMIN
    )
    assert_problem(bad_code, 422, INVALID)
    bad_day = api.put(
        "/v1/restaurants/demo/special-dates/2026-02-30", json={"closed": True}, headers=ADMIN
    )
    assert_problem(bad_day, 422, INVALID)
    profile = api.get("/v1/restaurants/demo").json()
    assert profile["timezone"] == "Europe/Madrid"
    assert profile["special_dates"] == []
    assert api.get("/v1/restaurants/moon").status_code == 404
    tables = api.get("/v1/restaurants/demo/tables", headers=ADMIN).json()
    assert tables[0] == {
        "code": "T1",
        "area": "indoor",
        "min_capacity": 1,
        "max_capacity": 2,
        "active": True,
    }


def test_health_readiness_and_docs(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok"}
    spec = api.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/v1/restaurants/{slug}/availability" in paths
    assert "/v1/reservations/{code}/check-in" in paths
    docs = api.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_an_unexpected_error_is_a_logged_500_problem(
    api: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_slug: str) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(container.booking, "restaurant", broken)
    assert_problem(api.post(BOOK, json=GOOD), 500, "INTERNAL_ERROR")


def test_an_unreachable_database_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/nothing",  # nothing listens on port 1
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
    )
    container = build(settings, migrate=False)
    with TestClient(create_app(container)) as api:
        assert api.get("/healthz").status_code == 200
        ready = assert_problem(api.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
        assert ready["database"] == "down"
        down = api.get("/v1/restaurants/demo")
        assert_problem(down, 503, "SERVICE_UNAVAILABLE")
        assert int(down.headers["Retry-After"]) > 0
        booking = api.post(BOOK, json=GOOD)
        assert_problem(booking, 503, "SERVICE_UNAVAILABLE")
        staff = api.get("/v1/restaurants/demo/tables", headers=ADMIN)
        assert_problem(staff, 503, "SERVICE_UNAVAILABLE")


def test_readiness_answers_quickly_when_the_database_hangs(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://postgres@10.255.255.1:5432/x",  # unroutable: connect hangs
        data_dir=tmp_path,
    )
    container = build(settings, migrate=False)
    with TestClient(create_app(container)) as api:
        started = time.monotonic()
        assert_problem(api.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
        assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    "bounds", ["from=2026-06-01&to=9999-12-31", "from=0001-01-01&to=2026-06-01"]
)
def test_waitlist_outcomes_outside_the_calendar_are_422(api: TestClient, bounds: str) -> None:
    """Fails before the fix: a period ending on the calendar's last day answered 500
    (found by the fuzzer once the other schemas stated their rules)."""
    answer = api.get(f"/v1/restaurants/demo/waitlist/outcomes?{bounds}", headers=ADMIN)
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR")
