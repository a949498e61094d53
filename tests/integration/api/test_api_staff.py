"""Staff and admin over HTTP: who may do what, configuration edits, the host stand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.bootstrap import Container
from tests.conftest import ADMIN_TOKEN
from tests.support import demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ANA = {"name": "Ana", "phone": "600111222"}


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(api: TestClient, role: str, *, by: dict[str, str] = ADMIN, slug: str = "demo") -> str:
    response = api.post(
        f"/v1/restaurants/{slug}/tokens", json={"role": role, "name": role}, headers=by
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def book(api: TestClient, time: str = "21:00", day: str = "2026-06-03", **extra: Any) -> Any:
    response = api.post(
        "/v1/restaurants/demo/reservations",
        json={**ANA, "date": day, "time": time, "party_size": 2, **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()["reservation"]


def free_times(api: TestClient, party_size: int, **headers: str) -> list[str]:
    response = api.get(
        "/v1/restaurants/demo/availability",
        params={"date": "2026-06-03", "party_size": party_size},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [s["time"] for s in response.json()["slots"]]


def second_restaurant(api: TestClient) -> None:
    doc = demo_document(slug="other", name="Otro")
    assert api.post("/v1/restaurants", json=doc, headers=ADMIN).status_code == 201


def test_the_admin_creates_a_restaurant_once(api: TestClient) -> None:
    doc = demo_document(slug="bistro", name="Bistro", timezone="Europe/London")
    created = api.post("/v1/restaurants", json=doc, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["timezone"] == "Europe/London"
    assert api.get("/v1/restaurants/bistro").json()["name"] == "Bistro"
    again = api.post("/v1/restaurants", json=doc, headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["code"] == "CONFLICT"
    owner = issue(api, "owner", slug="bistro")
    refused = api.post("/v1/restaurants", json=demo_document(slug="x"), headers=bearer(owner))
    assert refused.status_code == 403
    assert api.get("/v1/restaurants/x").status_code == 404


def test_staff_routes_need_a_valid_token_of_that_restaurant(api: TestClient) -> None:
    second_restaurant(api)
    no_token = api.get("/v1/restaurants/demo/tables")
    assert no_token.status_code == 401
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    assert no_token.json()["code"] == "UNAUTHORIZED"
    assert api.get("/v1/restaurants/demo/tables", headers=bearer("nope")).status_code == 401
    basic = api.get("/v1/restaurants/demo/tables", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    other_manager = issue(api, "manager", slug="other")
    elsewhere = api.get("/v1/restaurants/demo/tables", headers=bearer(other_manager))
    assert elsewhere.status_code == 403
    assert elsewhere.json()["code"] == "FORBIDDEN"
    code = book(api)["code"]
    assert api.get(f"/v1/reservations/{code}", headers=bearer(other_manager)).status_code == 404
    assert api.get("/v1/restaurants/other/tables", headers=bearer(other_manager)).status_code == 200


def test_roles_rank_host_manager_owner(api: TestClient) -> None:
    owner = issue(api, "owner")
    host = issue(api, "host", by=bearer(owner))
    manager = issue(api, "manager", by=bearer(owner))
    table = {"area": "terrace", "min_capacity": 2, "max_capacity": 4}

    refused = api.put("/v1/restaurants/demo/tables/T8", json=table, headers=bearer(host))
    assert refused.status_code == 403
    assert (
        api.post(
            "/v1/restaurants/demo/tokens",
            json={"role": "owner", "name": "me"},
            headers=bearer(manager),
        ).status_code
        == 403
    )
    assert (
        api.patch(
            "/v1/restaurants/demo", json={"name": "Casa Nueva"}, headers=bearer(manager)
        ).status_code
        == 403
    )

    added = api.put("/v1/restaurants/demo/tables/T8", json=table, headers=bearer(manager))
    assert added.status_code == 200, added.text
    listed = api.get("/v1/restaurants/demo/tables", headers=bearer(manager)).json()
    codes = [t["code"] for t in listed]
    assert "T8" in codes
    renamed = api.patch(
        "/v1/restaurants/demo",
        json={"name": "Casa Nueva", "contact": {"website": "https://casa.example"}},
        headers=bearer(owner),
    )
    assert renamed.status_code == 200, renamed.text
    profile = api.get("/v1/restaurants/demo").json()
    assert profile["name"] == "Casa Nueva"
    assert profile["contact"]["website"] == "https://casa.example"
    assert profile["contact"]["phone"] == "+34 910 000 000"


def test_table_and_combination_edits_change_what_can_be_booked(api: TestClient) -> None:
    manager = bearer(issue(api, "manager"))
    assert "21:00" in free_times(api, 6)
    assert api.delete("/v1/restaurants/demo/tables/T7", headers=manager).status_code == 204
    assert api.delete("/v1/restaurants/demo/combinations/T4+T5", headers=manager).status_code == 204
    assert free_times(api, 6) == []
    tables = api.get("/v1/restaurants/demo/tables", headers=manager).json()
    assert {
        "code": "T7",
        "area": "terrace",
        "min_capacity": 4,
        "max_capacity": 6,
        "active": False,
    } in tables

    combo = {"tables": ["T1", "T2", "T3"], "min_capacity": 5, "max_capacity": 8}
    put = api.put("/v1/restaurants/demo/combinations/BIG", json=combo, headers=manager)
    assert put.status_code == 200, put.text
    assert "21:00" in free_times(api, 6)
    listed = api.get("/v1/restaurants/demo/combinations", headers=manager).json()
    assert {
        "code": "BIG",
        "tables": ["T1", "T2", "T3"],
        "min_capacity": 5,
        "max_capacity": 8,
    } in listed
    unknown = api.put(
        "/v1/restaurants/demo/combinations/BAD",
        json={"tables": ["T1", "T99"], "max_capacity": 4},
        headers=manager,
    )
    assert unknown.status_code == 422
    assert api.delete("/v1/restaurants/demo/tables/T99", headers=manager).status_code == 404


def test_rules_services_and_special_dates(api: TestClient) -> None:
    manager = bearer(issue(api, "manager"))
    rules = api.get("/v1/restaurants/demo/rules", headers=manager).json()
    assert rules["max_party_size"] == 8
    rules["max_party_size"] = 10
    assert api.put("/v1/restaurants/demo/rules", json=rules, headers=manager).status_code == 200
    assert api.get("/v1/restaurants/demo").json()["booking"]["max_party_size"] == 10
    bad = api.put("/v1/restaurants/demo/rules", json={**rules, "slot_minutes": 7}, headers=manager)
    assert bad.status_code == 422

    services = api.get("/v1/restaurants/demo/services", headers=manager).json()
    assert [s["name"] for s in services] == ["lunch", "dinner"]
    dinner_only = [{"name": "dinner", "opens": "20:00", "closes": "23:30", "days": ["wed"]}]
    assert (
        api.put("/v1/restaurants/demo/services", json=dinner_only, headers=manager).status_code
        == 200
    )
    times = free_times(api, 2)
    assert times[0] == "20:00"
    assert "13:00" not in times

    special = {"hours": [{"opens": "12:00", "closes": "14:00"}], "note": "short day"}
    put = api.put("/v1/restaurants/demo/special-dates/2026-06-03", json=special, headers=manager)
    assert put.status_code == 200, put.text
    assert free_times(api, 2)[0] == "12:00"
    listed = api.get("/v1/restaurants/demo/special-dates", headers=manager).json()
    assert [d["date"] for d in listed] == ["2026-06-03"]
    closed_with_hours = api.put(
        "/v1/restaurants/demo/special-dates/2026-06-04",
        json={"closed": True, "hours": special["hours"]},
        headers=manager,
    )
    assert closed_with_hours.status_code == 422
    gone = api.delete("/v1/restaurants/demo/special-dates/2026-06-03", headers=manager)
    assert gone.status_code == 204
    assert free_times(api, 2)[0] == "20:00"
    again = api.delete("/v1/restaurants/demo/special-dates/2026-06-03", headers=manager)
    assert again.status_code == 404


def test_the_host_lists_the_day_and_moves_bookings_through_the_evening(api: TestClient) -> None:
    host = bearer(issue(api, "host"))
    a = book(api, "20:00")
    b = book(api, "21:00")
    book(api, "21:00", day="2026-06-04")
    sheet = api.get(
        "/v1/restaurants/demo/reservations", params={"date": "2026-06-03"}, headers=host
    )
    assert sheet.status_code == 200
    listed = sheet.json()["reservations"]
    assert [r["code"] for r in listed] == [a["code"], b["code"]]
    assert listed[0]["tables"] == ["T1"]
    assert listed[0]["guest"]["name"] == "Ana"
    assert listed[0]["start"] == "2026-06-03T20:00:00+02:00"
    assert (
        api.get("/v1/restaurants/demo/reservations", params={"date": "2026-06-03"}).status_code
        == 401
    )

    checked_in = api.post(f"/v1/reservations/{a['code']}/check-in", headers=host)
    assert checked_in.status_code == 200
    assert checked_in.json()["status"] == "checked_in"
    done = api.post(f"/v1/reservations/{a['code']}/complete", headers=host)
    assert done.json()["status"] == "completed"
    no_show = api.post(f"/v1/reservations/{b['code']}/no-show", headers=host)
    assert no_show.json()["status"] == "no_show"
    invalid = api.post(f"/v1/reservations/{b['code']}/check-in", headers=host)
    assert invalid.status_code == 409
    assert invalid.json()["code"] == "INVALID_TRANSITION"


def test_staff_confirm_pending_bookings_with_if_match(api: TestClient) -> None:
    host = bearer(issue(api, "host"))
    made = api.post(
        "/v1/restaurants/demo/reservations",
        json={
            **ANA,
            "date": "2026-06-03",
            "time": "21:00",
            "party_size": 6,
            "status": "pending",
            "tables": ["T4", "T5"],
        },
        headers=host,
    )
    assert made.status_code == 201, made.text
    code = made.json()["reservation"]["code"]
    assert made.json()["reservation"]["status"] == "pending"
    stale = api.post(f"/v1/reservations/{code}/confirm", headers={**host, "If-Match": '"7"'})
    assert stale.status_code == 409
    assert stale.json()["code"] == "CONFLICT"
    ok = api.post(f"/v1/reservations/{code}/confirm", headers={**host, "If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.json()["status"] == "confirmed"
    assert ok.headers["ETag"] == '"2"'


def test_a_walk_in_is_seated_now(api: TestClient) -> None:
    host = bearer(issue(api, "host"))
    seated = api.post(
        "/v1/restaurants/demo/walk-ins", json={"party_size": 3, "name": "Luis"}, headers=host
    )
    assert seated.status_code == 201, seated.text
    walk_in = seated.json()
    assert walk_in["status"] == "checked_in"
    assert walk_in["source"] == "walk_in"
    assert walk_in["start"] == "2026-06-01T11:00:00+02:00"
    assert walk_in["tables"] == ["T3"]
    assert api.post("/v1/restaurants/demo/walk-ins", json={"party_size": 3}).status_code == 401
    too_big = api.post("/v1/restaurants/demo/walk-ins", json={"party_size": 50}, headers=host)
    assert too_big.status_code == 422
    assert too_big.json()["code"] == "NO_SUITABLE_TABLE"


def test_an_owner_token_issued_by_the_admin_works_and_staff_see_staff_rules(
    api: TestClient,
) -> None:
    owner = issue(api, "owner")
    host = issue(api, "host", by=bearer(owner))
    big = {"tables": ["T3", "T4", "T5"], "min_capacity": 9, "max_capacity": 12}
    added = api.put("/v1/restaurants/demo/combinations/BIG", json=big, headers=bearer(owner))
    assert added.status_code == 200
    assert free_times(api, 9) == []  # over the online party limit
    assert free_times(api, 9, Authorization=f"Bearer {host}")  # staff may seat nine
    assert api.get("/v1/restaurants/demo/rules", headers=bearer(owner)).status_code == 200
