"""Low findings of the security review: inputs that answered 500 or were accepted,
each now a 4xx that changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.store.schema import reservations, restaurants
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOOK = "/v1/restaurants/demo/reservations"
GOOD: dict[str, Any] = {"date": "2026-06-03", "time": "21:00", "party_size": 2, "name": "Ana"}
BEYOND_INT64 = 2**63


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client


def count(container: Container, table: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def assert_4xx(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_a_non_ascii_manage_token_is_refused_not_a_crash(api: TestClient) -> None:
    """Fails before the fix: comparing a non-ASCII token raised TypeError (500)."""
    code = api.post(BOOK, json={**GOOD, "phone": "600111222"}).json()["reservation"]["code"]
    by_query = api.get(f"/v1/reservations/{code}", params={"token": "tökén"})
    assert_4xx(by_query, 401, "UNAUTHORIZED")  # a token in the URL is never read
    by_header = api.get(f"/v1/reservations/{code}", headers=[(b"X-Manage-Token", b"t\xf6k\xe9n")])
    assert_4xx(by_header, 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/v1/restaurants/demo/guests/{BEYOND_INT64}/notify-channels", None),
        ("PUT", f"/v1/restaurants/demo/guests/{BEYOND_INT64}/notify-channels", {"channels": None}),
        ("GET", f"/v1/restaurants/demo/conversations/{BEYOND_INT64}", None),
        ("GET", f"/v1/restaurants/demo/conversations/1?before={BEYOND_INT64}", None),
        ("POST", f"/v1/restaurants/demo/conversations/{BEYOND_INT64}/messages", {"text": "hi"}),
        ("PUT", f"/v1/restaurants/demo/conversations/{BEYOND_INT64}/handoff", {"active": True}),
        ("GET", f"/v1/restaurants/demo/guests/{BEYOND_INT64}/surveys", None),
    ],
    ids=["guest-get", "guest-put", "conversation", "before", "reply", "handoff", "surveys"],
)
def test_ids_beyond_the_databases_integers_are_422(
    api: TestClient, method: str, path: str, body: Any
) -> None:
    """Fails before the fix: the id reached the database, which overflowed (500)."""
    assert_4xx(api.request(method, path, json=body, headers=ADMIN), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "opens",
    ["13:00:00+05:00", "13:00Z", "13:00-23:59", 46800],
    ids=["offset", "zulu", "negative-offset", "seconds"],
)
def test_a_restaurant_document_with_odd_times_is_422(
    api: TestClient, container: Container, opens: Any
) -> None:
    """Fails before the fix: offsets were dropped silently and a number of seconds was
    read as a time, so the restaurant was created with hours nobody wrote (201)."""
    before = count(container, restaurants)
    doc = {"slug": "odd", "name": "Odd", "services": [{"opens": opens, "closes": "16:00"}]}
    assert_4xx(api.post("/v1/restaurants", json=doc, headers=ADMIN), 422, "VALIDATION_ERROR")
    assert count(container, restaurants) == before


def test_a_restaurant_document_with_lone_surrogates_is_422(
    api: TestClient, container: Container
) -> None:
    """A lone surrogate cannot be stored as text: refused as bad input (it was already
    a 422 when this was written; kept so it stays one)."""
    before = count(container, restaurants)
    for raw in (
        '{"slug": "s", "name": "\\ud800"}',
        '{"slug": "s", "name": "n", "\\udc00": 1}',
        '{"slug": "s", "name": "n", "services": [{"opens": "13:00\\ud800", "closes": "16:00"}]}',
        '{"slug": "s", "name": "n", "tables": [{"code": "T1", "area": "\\ud800", '
        '"max_capacity": 2}]}',
    ):
        response = api.post(
            "/v1/restaurants",
            content=raw,
            headers={**ADMIN, "content-type": "application/json"},
        )
        assert_4xx(response, 422, "VALIDATION_ERROR")
    assert count(container, restaurants) == before


@pytest.mark.parametrize(
    "website",
    ["javascript:alert(document.cookie)", "data:text/html,<script>x</script>", "ftp://x.example"],
)
def test_a_restaurant_website_must_be_an_http_page(api: TestClient, website: str) -> None:
    """Fails before the fix: any string was stored and shown to guests as the link."""
    response = api.patch(
        "/v1/restaurants/demo", json={"contact": {"website": website}}, headers=ADMIN
    )
    assert_4xx(response, 422, "VALIDATION_ERROR")
    doc = {"slug": "js", "name": "JS", "contact": {"website": website}}
    assert_4xx(api.post("/v1/restaurants", json=doc, headers=ADMIN), 422, "VALIDATION_ERROR")
    fine = api.patch(
        "/v1/restaurants/demo",
        json={"contact": {"website": "https://casa.example/"}},
        headers=ADMIN,
    )
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize(
    "email",
    ["ana@casa.example\r\nBcc:everyone@casa.example", "ana@casa.example,eve@casa.example"],
    ids=["crlf", "two-addresses"],
)
def test_a_guest_email_is_one_mailbox(api: TestClient, container: Container, email: str) -> None:
    """Fails before the fix: header-breaking and multi-address emails were booked (201)."""
    assert_4xx(api.post(BOOK, json={**GOOD, "email": email}), 422, "VALIDATION_ERROR")
    assert count(container, reservations) == 0


def test_guests_book_on_the_web_channel_only(api: TestClient, container: Container) -> None:
    """Fails before the fix: a public caller could record a booking as coming from
    WhatsApp (body ``source``) or act as another channel (``X-SaveIt-Channel``)."""
    body = {**GOOD, "phone": "600111222"}
    assert_4xx(api.post(BOOK, json={**body, "source": "whatsapp"}), 403, "FORBIDDEN")
    claimed = api.post(BOOK, json=body, headers={"X-SaveIt-Channel": "whatsapp"})
    assert_4xx(claimed, 403, "FORBIDDEN")
    assert count(container, reservations) == 0
    made = api.post(BOOK, json=body, headers={"X-SaveIt-Channel": "web"})
    assert made.status_code == 201, made.text
    assert made.json()["reservation"]["source"] == "web"
    code, token = made.json()["reservation"]["code"], made.json()["manage_token"]
    as_sms = api.post(
        f"/v1/reservations/{code}/cancel",
        headers={"X-Manage-Token": token, "X-SaveIt-Channel": "sms"},
    )
    assert_4xx(as_sms, 403, "FORBIDDEN")
    # Staff record what the guest told them on the phone.
    staff = api.post(
        BOOK,
        json={**body, "time": "21:30", "phone": "600999888", "source": "phone"},
        headers={**ADMIN, "X-SaveIt-Channel": "phone"},
    )
    assert staff.status_code == 201, staff.text
    assert staff.json()["reservation"]["source"] == "phone"
