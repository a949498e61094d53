"""Guests' credentials stay out of URLs and stop working when the booking is over;
another restaurant's staff cannot tell a real reservation code from a made-up one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.bootstrap import Container
from tests.conftest import ADMIN_TOKEN
from tests.integration.notify.test_notify import (  # noqa: F401 - fixtures
    PHONE,
    PUBLIC,
    Pump,
    app,
    graph,
    sms_bodies,
    twilio,
    wait,
)
from tests.recording_http import RecordingServer
from tests.support import FakeClock, demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOOKING = {"date": "2026-06-03", "time": "21:00", "party_size": 2, "name": "Ana"}


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def book(api: TestClient, phone: str = "600111222") -> dict[str, Any]:
    made = api.post("/v1/restaurants/demo/reservations", json={**BOOKING, "phone": phone})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_another_restaurants_staff_get_404_for_a_code_that_exists(api: TestClient) -> None:
    """Fails before the fix: they got 403 "belongs to another restaurant" for a real code and
    404 for a made-up one, so codes could be confirmed by probing."""
    doc = demo_document(slug="other", name="Otro")
    assert api.post("/v1/restaurants", json=doc, headers=ADMIN).status_code == 201
    issued = api.post(
        "/v1/restaurants/other/tokens", json={"role": "owner", "name": "o"}, headers=ADMIN
    )
    stranger = {"Authorization": f"Bearer {issued.json()['token']}"}
    code = book(api)["reservation"]["code"]
    real = api.get(f"/v1/reservations/{code}", headers=stranger)
    made_up = api.get("/v1/reservations/ZZZZ2222", headers=stranger)
    assert real.status_code == made_up.status_code == 404
    assert real.json()["detail"] == made_up.json()["detail"]
    cancel = api.post(f"/v1/reservations/{code}/cancel", headers=stranger)
    assert cancel.status_code == 404
    mine = api.get(f"/v1/reservations/{code}", headers=ADMIN)
    assert mine.json()["status"] == "confirmed"


def test_a_manage_token_in_the_url_is_not_accepted(api: TestClient) -> None:
    """Fails before the fix: ``?token=<manage token>`` opened (and could cancel) the booking,
    so the token sat in access logs, proxies and browser history."""
    made = book(api)
    code, token = made["reservation"]["code"], made["manage_token"]
    assert api.get(f"/v1/reservations/{code}", params={"token": token}).status_code == 401
    cancel = api.post(f"/v1/reservations/{code}/cancel", params={"token": token})
    assert cancel.status_code == 401
    header = api.get(f"/v1/reservations/{code}", headers={"X-Manage-Token": token})
    assert header.json()["status"] == "confirmed"


def test_a_manage_token_stops_working_after_the_booking_and_its_grace(
    api: TestClient, clock: FakeClock
) -> None:
    """Fails before the fix: a manage token (an HMAC of the code) worked for ever."""
    made = book(api)
    code, token = made["reservation"]["code"], made["manage_token"]
    headers = {"X-Manage-Token": token}
    end = made["reservation"]["end"]
    grace = timedelta(hours=api.app.state.container.settings.manage_token_grace_hours)  # type: ignore[attr-defined]
    clock.now = _utc(end) + grace - timedelta(minutes=1)
    assert api.get(f"/v1/reservations/{code}", headers=headers).status_code == 200
    clock.now = _utc(end) + grace
    late = api.get(f"/v1/reservations/{code}", headers=headers)
    assert late.status_code == 403
    assert "expired" in late.json()["detail"]
    assert api.get(f"/v1/reservations/{code}", headers=ADMIN).status_code == 200


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


def test_the_sms_qr_link_shows_the_qr_only_and_expires(
    app: tuple[TestClient, Container],  # noqa: F811
    twilio: RecordingServer,  # noqa: F811
    clock: FakeClock,
) -> None:
    """Fails before the fix: the link sent by SMS (and fetched by Meta) carried the booking's
    manage token, so anyone holding the SMS or a provider log could change or cancel it."""
    client, container = app
    made = client.post(
        "/v1/restaurants/demo/reservations",
        json={**BOOKING, "date": "2026-06-04", "phone": PHONE, "language": "en"},
    ).json()
    code, manage = made["reservation"]["code"], made["manage_token"]
    Pump(container)()
    wait(lambda: len(twilio.requests) == 1)
    (text,) = sms_bodies(twilio)
    link = text.split("QR: ", 1)[1].strip()
    assert link.startswith(f"{PUBLIC}/v1/reservations/{code}/qr?")
    link_token = parse_qs(urlsplit(link).query)["token"][0]
    assert link_token != manage
    path = link.replace(PUBLIC, "")
    qr = client.get(path)
    assert (qr.status_code, qr.headers["content-type"]) == (200, "image/png")
    # The link token opens nothing but the QR.
    as_manage = {"X-Manage-Token": link_token}
    assert client.get(f"/v1/reservations/{code}", headers=as_manage).status_code == 403
    assert client.post(f"/v1/reservations/{code}/cancel", headers=as_manage).status_code == 403
    # ... and not for ever: the booking's end plus the grace.
    grace = timedelta(hours=container.settings.qr_link_grace_hours)
    clock.now = _utc(made["reservation"]["end"]) + grace + timedelta(seconds=1)
    assert client.get(path).status_code == 403
