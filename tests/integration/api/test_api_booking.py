"""The public booking flow over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.store.schema import reservations
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ANA = {"name": "Ana", "phone": "600111222", "email": "ana@example.com", "language": "es"}


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def book(api: TestClient, **body: Any) -> Any:
    return api.post("/v1/restaurants/demo/reservations", json={**ANA, **body})


def free_times(api: TestClient, date: str, party_size: int) -> list[str]:
    response = api.get(
        "/v1/restaurants/demo/availability", params={"date": date, "party_size": party_size}
    )
    assert response.status_code == 200, response.text
    return [slot["time"] for slot in response.json()["slots"]]


def count_reservations(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def test_a_guest_books_changes_and_cancels_end_to_end(api: TestClient) -> None:
    assert "21:00" in free_times(api, "2026-06-03", 6)

    made = book(api, date="2026-06-03", time="21:00", party_size=6, notes="birthday")
    assert made.status_code == 201, made.text
    reservation = made.json()["reservation"]
    token = made.json()["manage_token"]
    assert reservation["start"] == "2026-06-03T21:00:00+02:00"
    assert reservation["end"] == "2026-06-03T23:30:00+02:00"
    assert reservation["status"] == "confirmed"
    assert reservation["guest"]["phone"] == "+34600111222"
    assert made.headers["ETag"] == '"1"'
    code = reservation["code"]

    seen = api.get(f"/v1/reservations/{code}", headers={"X-Manage-Token": token})
    assert seen.status_code == 200
    assert seen.json() == reservation
    # Never in the URL, where access logs and browser history keep it.
    assert api.get(f"/v1/reservations/{code}", params={"token": token}).status_code == 401

    moved = api.patch(
        f"/v1/reservations/{code}",
        json={"start": "2026-06-03T19:30:00Z", "party_size": 5},
        headers={"X-Manage-Token": token, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"] == "2026-06-03T21:30:00+02:00"
    assert moved.json()["party_size"] == 5
    assert moved.headers["ETag"] == '"2"'

    cancelled = api.post(
        f"/v1/reservations/{code}/cancel",
        json={"reason": "plans changed"},
        headers={"X-Manage-Token": token},
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    # T7 and T4+T5 both free again: a party of 6 can take 21:30 twice more.
    assert "21:30" in free_times(api, "2026-06-03", 6)
    assert book(api, date="2026-06-03", time="21:30", party_size=6).status_code == 201
    assert book(api, date="2026-06-03", time="21:30", party_size=6).status_code == 201


def test_a_booking_takes_its_time_out_of_availability(api: TestClient) -> None:
    for _ in range(2):  # T7 and T4+T5 are the only seatings for six
        assert book(api, date="2026-06-03", time="21:00", party_size=6).status_code == 201
    assert "21:00" not in free_times(api, "2026-06-03", 6)
    assert "21:00" in free_times(api, "2026-06-03", 2)


def test_an_idempotent_retry_returns_the_same_booking_once(
    api: TestClient, container: Container
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    body = {**ANA, "date": "2026-06-03", "time": "21:00", "party_size": 2}
    first = api.post("/v1/restaurants/demo/reservations", json=body, headers=headers)
    again = api.post("/v1/restaurants/demo/reservations", json=body, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json()["reservation"]["code"] == first.json()["reservation"]["code"]
    assert again.json()["manage_token"] == first.json()["manage_token"]
    assert count_reservations(container) == 1

    reused = api.post(
        "/v1/restaurants/demo/reservations", json={**body, "party_size": 3}, headers=headers
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "CONFLICT"
    assert count_reservations(container) == 1


def test_a_taken_slot_offers_nearby_alternatives(api: TestClient) -> None:
    for _ in range(2):
        assert book(api, date="2026-06-03", time="21:00", party_size=6).status_code == 201
    taken = book(api, date="2026-06-03", time="21:00", party_size=6)
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    problem = taken.json()
    assert problem["code"] == "SLOT_TAKEN"
    assert problem["status"] == 409
    assert problem["alternatives"]
    assert all(a.endswith("+02:00") for a in problem["alternatives"])
    retry = api.post(
        "/v1/restaurants/demo/reservations",
        json={**ANA, "start": problem["alternatives"][0], "party_size": 6},
    )
    assert retry.status_code == 201


def at(day: str, time: str, party_size: int, **extra: Any) -> dict[str, Any]:
    return {"date": day, "time": time, "party_size": party_size, **extra}


RULE_CASES = [
    (at("2026-06-03", "17:00", 2), 422, "OUTSIDE_OPENING_HOURS", None),
    (at("2026-06-03", "21:00", 9), 422, "PARTY_TOO_LARGE", "max_party_size"),
    (at("2026-08-20", "21:00", 2), 422, "TOO_FAR_AHEAD", "max_days_ahead"),
    (at("2026-06-01", "11:30", 2), 422, "OUTSIDE_OPENING_HOURS", None),
    (at("2026-06-01", "13:00", 2, status="pending"), 403, "FORBIDDEN", None),
    (at("2026-06-03", "21:00", 2, tables=["T7"]), 403, "FORBIDDEN", None),
]


@pytest.mark.parametrize(("body", "status", "code", "field"), RULE_CASES)
def test_booking_rules_answer_with_their_codes(
    api: TestClient,
    container: Container,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = book(api, **body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if field:
        assert field in response.json()
    assert count_reservations(container) == 0


def test_too_soon_is_refused_online_but_staff_may_book_it(
    api: TestClient, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)  # 12:30 in Madrid
    soon = book(api, date="2026-06-01", time="13:00", party_size=2)
    assert soon.status_code == 422
    assert soon.json()["code"] == "TOO_SOON"
    assert soon.json()["min_lead_minutes"] == 60
    staff = api.post(
        "/v1/restaurants/demo/reservations",
        json={**ANA, "date": "2026-06-01", "time": "13:00", "party_size": 2},
        headers=ADMIN,
    )
    assert staff.status_code == 201


def test_no_table_seats_a_party_that_large(api: TestClient) -> None:
    response = api.post(
        "/v1/restaurants/demo/reservations",
        json={**ANA, "date": "2026-06-03", "time": "21:00", "party_size": 20},
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "NO_SUITABLE_TABLE"


def test_close_to_the_booking_guests_must_call(api: TestClient, clock: FakeClock) -> None:
    made = book(api, date="2026-06-01", time="13:00", party_size=2).json()
    code, token = made["reservation"]["code"], made["manage_token"]
    clock.advance(minutes=30)  # 90 minutes before, inside the 120-minute cutoff
    guest = {"X-Manage-Token": token}
    cancel = api.post(f"/v1/reservations/{code}/cancel", headers=guest)
    assert cancel.status_code == 409
    assert cancel.json()["code"] == "TOO_LATE_TO_CANCEL"
    assert cancel.json()["cutoff_minutes"] == 120
    change = api.patch(f"/v1/reservations/{code}", json={"party_size": 1}, headers=guest)
    assert change.status_code == 409
    assert change.json()["code"] == "TOO_LATE_TO_CHANGE"
    assert api.get(f"/v1/reservations/{code}", headers=guest).json()["status"] == "confirmed"
    assert api.post(f"/v1/reservations/{code}/cancel", headers=ADMIN).status_code == 200


def test_a_stale_version_is_a_conflict(api: TestClient) -> None:
    made = book(api, date="2026-06-03", time="21:00", party_size=2).json()
    code, token = made["reservation"]["code"], made["manage_token"]
    guest = {"X-Manage-Token": token}
    first = api.patch(f"/v1/reservations/{code}", json={"notes": "window"}, headers=guest)
    assert first.status_code == 200
    stale = api.patch(
        f"/v1/reservations/{code}", json={"notes": "terrace"}, headers={**guest, "If-Match": '"1"'}
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "CONFLICT"
    in_body = api.patch(
        f"/v1/reservations/{code}", json={"notes": "x", "version": 1}, headers=guest
    )
    assert in_body.status_code == 409
    assert api.get(f"/v1/reservations/{code}", headers=guest).json()["notes"] == "window"


def test_a_manage_token_opens_only_its_own_reservation(api: TestClient) -> None:
    one = book(api, date="2026-06-03", time="21:00", party_size=2).json()
    two = book(api, date="2026-06-03", time="21:00", party_size=2).json()
    code = one["reservation"]["code"]
    missing = api.get(f"/v1/reservations/{code}")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = api.get(f"/v1/reservations/{code}", headers={"X-Manage-Token": two["manage_token"]})
    assert wrong.status_code == 403
    cancel = api.post(
        f"/v1/reservations/{code}/cancel", headers={"X-Manage-Token": two["manage_token"]}
    )
    assert cancel.status_code == 403
    check_in = api.post(
        f"/v1/reservations/{code}/check-in", headers={"X-Manage-Token": one["manage_token"]}
    )
    assert check_in.status_code == 403
    mine = api.get(f"/v1/reservations/{code}", headers={"X-Manage-Token": one["manage_token"]})
    assert mine.json()["status"] == "confirmed"


def test_the_restaurant_profile_shows_hours_and_limits(api: TestClient) -> None:
    api.put(
        "/v1/restaurants/demo/special-dates/2026-06-24",
        json={"closed": True, "note": "San Juan"},
        headers=ADMIN,
    )
    profile = api.get("/v1/restaurants/demo").json()
    assert profile["timezone"] == "Europe/Madrid"
    assert profile["contact"]["phone"] == "+34 910 000 000"
    assert [h["opens"] for h in profile["hours"]["mon"]] == ["13:00", "20:00"]
    assert profile["booking"]["max_party_size"] == 8
    assert profile["booking"]["max_days_ahead"] == 60
    assert profile["special_dates"] == [
        {"date": "2026-06-24", "closed": True, "hours": [], "note": "San Juan"}
    ]
    assert free_times(api, "2026-06-24", 2) == []
