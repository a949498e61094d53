"""Check-in at the door over HTTP, on SQLite and PostgreSQL: the guest's QR, the
host's scan, and every way a scan is refused without changing anything."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.checkin import CheckIn, Keyring
from saveit.store.schema import guests, outbox, reservation_log, reservations
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
START = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
ALLOWED = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otro")))
    with TestClient(create_app(container)) as client:
        yield client


@pytest.fixture
def host(api: TestClient) -> dict[str, str]:
    """A host-role token of the demo restaurant (the least that may scan)."""
    made = api.post(
        "/v1/restaurants/demo/tokens", json={"role": "host", "name": "door"}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


@dataclass(frozen=True)
class Booking:
    code: str
    manage_token: str


_phones = iter(range(600_100_000, 600_200_000))


def book(api: TestClient, slug: str = "demo", time: str = "21:00") -> Booking:
    made = api.post(
        f"/v1/restaurants/{slug}/reservations",
        json={
            "name": "Ana",
            "phone": str(next(_phones)),
            "date": "2026-06-03",
            "time": time,
            "party_size": 2,
        },
    )
    assert made.status_code == 201, made.text
    return Booking(made.json()["reservation"]["code"], made.json()["manage_token"])


def qr_token(api: TestClient, booking: Booking) -> str:
    """What a phone camera reads off the guest's QR."""
    got = api.get(f"/v1/reservations/{booking.code}/qr", params={"token": booking.manage_token})
    assert got.status_code == 200, got.text
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(got.content)))
    assert len(found) == 1
    return str(found[0].text)


def scan(api: TestClient, token: str, headers: dict[str, str], slug: str = "demo") -> Any:
    return api.post(f"/v1/restaurants/{slug}/check-in", json={"token": token}, headers=headers)


def state(container: Container, code: str) -> tuple[Any, ...]:
    """Everything a scan may change: the booking, the guest's visits, the log, the outbox."""
    with container.engine.connect() as conn:
        row = conn.execute(
            select(
                reservations.c.id,
                reservations.c.version,
                reservations.c.status,
                reservations.c.guest_id,
            ).where(reservations.c.code == code)
        ).one()
        visits = conn.execute(
            select(guests.c.visit_count).where(guests.c.id == row.guest_id)
        ).scalar_one()
        logged = conn.execute(
            select(func.count())
            .select_from(reservation_log)
            .where(reservation_log.c.reservation_id == row.id)
        ).scalar_one()
        events = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return row.version, row.status, visits, logged, events


def refused(
    api: TestClient,
    container: Container,
    code: str,
    token: str,
    headers: dict[str, str],
    status: int,
    problem: str,
    slug: str = "demo",
) -> dict[str, Any]:
    before = state(container, code)
    answer = scan(api, token, headers, slug)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == problem
    assert state(container, code) == before
    return dict(answer.json())


def checked_in_rows(container: Container, code: str) -> tuple[int, int]:
    with container.engine.connect() as conn:
        reservation_id = conn.execute(
            select(reservations.c.id).where(reservations.c.code == code)
        ).scalar_one()
        logged = conn.execute(
            select(func.count())
            .select_from(reservation_log)
            .where(
                reservation_log.c.reservation_id == reservation_id,
                reservation_log.c.action == "checked_in",
            )
        ).scalar_one()
        events = [
            p
            for p in conn.execute(
                select(outbox.c.payload).where(outbox.c.type == "reservation.checked_in")
            ).scalars()
            if p["reservation"]["code"] == code
        ]
    return int(logged), len(events)


def test_a_valid_qr_checks_the_guest_in_once(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    booking = book(api)
    token = qr_token(api, booking)
    clock.now = datetime(2026, 6, 3, 18, 50, tzinfo=UTC)

    done = scan(api, token, host)

    assert done.status_code == 200, done.text
    shown = done.json()
    assert shown["code"] == booking.code
    assert shown["status"] == "checked_in"
    assert shown["start"] == "2026-06-03T21:00:00+02:00"
    assert shown["version"] == 2
    assert done.headers["ETag"] == '"2"'
    version, status, visits, _logged, _events = state(container, booking.code)
    assert (version, status, visits) == (2, "checked_in", 1)
    assert checked_in_rows(container, booking.code) == (1, 1)
    with container.engine.connect() as conn:
        entry = conn.execute(
            select(reservation_log.c.actor, reservation_log.c.channel).where(
                reservation_log.c.action == "checked_in"
            )
        ).one()
    assert entry.actor.endswith("door")

    replay = refused(api, container, booking.code, token, host, 409, "ALREADY_CHECKED_IN")
    assert replay["reservation_code"] == booking.code
    assert checked_in_rows(container, booking.code) == (1, 1)


def test_the_window_opens_early_and_closes_late_by_the_restaurants_rules(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    early, late = book(api), book(api)
    early_token, late_token = qr_token(api, early), qr_token(api, late)

    clock.now = datetime(2026, 6, 3, 18, 29, 59, tzinfo=UTC)  # 30 min before is 18:30
    too_early = refused(api, container, early.code, early_token, host, 422, "QR_TOO_EARLY")
    assert too_early["opens_at"] == "2026-06-03T18:30:00+00:00"
    clock.now = datetime(2026, 6, 3, 18, 30, tzinfo=UTC)
    assert scan(api, early_token, host).status_code == 200

    clock.now = datetime(2026, 6, 3, 19, 45, 1, tzinfo=UTC)  # 45 min after is 19:45
    expired = refused(api, container, late.code, late_token, host, 422, "QR_EXPIRED")
    assert expired["closed_at"] == "2026-06-03T19:45:00+00:00"
    clock.now = datetime(2026, 6, 3, 19, 45, tzinfo=UTC)
    assert scan(api, late_token, host).status_code == 200


def test_another_restaurants_qr_is_refused(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    elsewhere = book(api, slug="other")
    token = qr_token(api, elsewhere)
    clock.now = START
    refused(api, container, elsewhere.code, token, host, 422, "QR_WRONG_RESTAURANT")
    # The admin may scan anywhere, but still only at the right door.
    refused(api, container, elsewhere.code, token, ADMIN, 422, "QR_WRONG_RESTAURANT")
    assert scan(api, token, ADMIN, slug="other").status_code == 200


def test_a_cancelled_or_no_show_booking_is_refused_at_the_door(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    cancelled, missed = book(api), book(api)
    cancelled_token, missed_token = qr_token(api, cancelled), qr_token(api, missed)
    gone = api.post(
        f"/v1/reservations/{cancelled.code}/cancel",
        headers={"X-Manage-Token": cancelled.manage_token},
    )
    assert gone.status_code == 200
    clock.now = START
    refused(api, container, cancelled.code, cancelled_token, host, 409, "RESERVATION_CANCELLED")

    clock.now = datetime(2026, 6, 3, 19, 25, tzinfo=UTC)
    assert api.post(f"/v1/reservations/{missed.code}/no-show", headers=host).status_code == 200
    late = refused(api, container, missed.code, missed_token, host, 409, "RESERVATION_NO_SHOW")
    assert "walk-in" in late["detail"]


def test_a_moved_bookings_old_qr_is_superseded_and_the_new_one_works(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    booking = book(api)
    old = qr_token(api, booking)
    moved = api.patch(
        f"/v1/reservations/{booking.code}",
        json={"start": "2026-06-03T19:30:00Z"},
        headers={"X-Manage-Token": booking.manage_token},
    )
    assert moved.status_code == 200, moved.text
    new = qr_token(api, booking)
    assert new != old

    clock.now = datetime(2026, 6, 3, 19, 10, tzinfo=UTC)  # inside both windows
    superseded = refused(api, container, booking.code, old, host, 422, "QR_SUPERSEDED")
    assert superseded["start"] == "2026-06-03T19:30:00+00:00"
    done = scan(api, new, host)
    assert done.status_code == 200, done.text
    assert done.json()["start"] == "2026-06-03T21:30:00+02:00"


def test_a_change_that_keeps_the_time_keeps_the_qr(
    api: TestClient, clock: FakeClock, host: dict[str, str]
) -> None:
    booking = book(api)
    token = qr_token(api, booking)
    bigger = api.patch(
        f"/v1/reservations/{booking.code}",
        json={"party_size": 3},
        headers={"X-Manage-Token": booking.manage_token},
    )
    assert bigger.status_code == 200, bigger.text
    clock.now = START
    assert scan(api, token, host).status_code == 200


def test_every_tampered_character_is_refused_and_changes_nothing(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    booking = book(api)
    token = qr_token(api, booking)
    clock.now = START
    for i, original in enumerate(token):
        shift = 1 + i % (len(ALLOWED) - 1)  # a different character at every position
        replacement = ALLOWED[(ALLOWED.index(original) + shift) % len(ALLOWED)]
        assert replacement != original
        tampered = token[:i] + replacement + token[i + 1 :]
        key_id = 2 <= i < 4 and replacement.isalnum()
        expected = "QR_UNKNOWN_KEY" if key_id else "QR_INVALID_SIGNATURE"
        refused(api, container, booking.code, tampered, host, 422, expected)
    for junk in ("", " ", "x" * 500):
        assert scan(api, junk, host).status_code == 422
    assert scan(api, f"  {token}\n", host).status_code == 200  # a scanner's stray whitespace


def test_keys_rotate_old_tokens_scan_until_their_key_is_retired(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    k1, k2 = b"k1-secret-of-32-bytes-for-tests!", b"k2-secret-of-32-bytes-for-tests!"
    first, second = book(api), book(api)
    view = container.booking.get(first.code)
    old = CheckIn(container.booking, Keyring({"K1": k1}), clock).token_for(view)
    old_too = CheckIn(container.booking, Keyring({"K1": k1}), clock).token_for(
        container.booking.get(second.code)
    )
    clock.now = START

    # Each key change is a restart with the new keys: the app gets a new container.
    rotated = CheckIn(container.booking, Keyring({"K1": k1, "K2": k2}, "K2"), clock)
    api.app.state.container = replace(container, checkin=rotated)  # type: ignore[attr-defined]
    assert rotated.token_for(view).split(".")[1] == "K2"
    assert scan(api, old, host).status_code == 200

    retired = CheckIn(container.booking, Keyring({"K2": k2}), clock)
    api.app.state.container = replace(container, checkin=retired)  # type: ignore[attr-defined]
    refused(api, container, second.code, old_too, host, 422, "QR_UNKNOWN_KEY")


def test_only_hosts_of_the_restaurant_scan(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    booking = book(api)
    token = qr_token(api, booking)
    clock.now = START
    assert scan(api, token, {}).status_code == 401
    guest = {"X-Manage-Token": booking.manage_token}
    assert scan(api, token, guest).status_code == 401
    made = api.post(
        "/v1/restaurants/other/tokens", json={"role": "owner", "name": "x"}, headers=ADMIN
    )
    elsewhere = {"Authorization": f"Bearer {made.json()['token']}"}
    assert scan(api, token, elsewhere).json()["code"] == "FORBIDDEN"
    assert state(container, booking.code)[:3] == (1, "confirmed", 0)
    assert scan(api, token, host).status_code == 200


def test_the_qr_image_is_private_and_comes_as_png_or_svg(
    api: TestClient, container: Container, clock: FakeClock, host: dict[str, str]
) -> None:
    booking = book(api)
    url = f"/v1/reservations/{booking.code}/qr"
    as_header = api.get(url, headers={"X-Manage-Token": booking.manage_token})
    assert as_header.status_code == 200
    assert as_header.headers["content-type"] == "image/png"
    assert as_header.headers["cache-control"] == "private, no-store"
    assert as_header.content.startswith(b"\x89PNG")
    assert api.get(url, headers=host).status_code == 200

    svg = api.get(url, params={"format": "svg", "token": booking.manage_token})
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["cache-control"] == "private, no-store"
    assert svg.content.startswith(b"<svg")
    accepted = api.get(
        url, headers={"X-Manage-Token": booking.manage_token, "Accept": "image/svg+xml"}
    )
    assert accepted.headers["content-type"] == "image/svg+xml"

    assert api.get(url).status_code == 401
    other = book(api)
    assert api.get(url, params={"token": other.manage_token}).status_code == 403
    assert api.get(url, params={"token": booking.manage_token, "format": "gif"}).status_code == 422

    clock.now = START
    assert scan(api, qr_token(api, booking), host).status_code == 200
    assert api.get(url, headers=host).status_code == 200  # still shown while they dine
    assert api.post(f"/v1/reservations/{booking.code}/complete", headers=host).status_code == 200
    done = api.get(url, headers=host)
    assert (done.status_code, done.json()["code"]) == (409, "ALREADY_CHECKED_IN")


@pytest.mark.parametrize(
    ("action", "problem"), [("cancel", "RESERVATION_CANCELLED"), ("no-show", "RESERVATION_NO_SHOW")]
)
def test_a_closed_booking_has_no_qr(
    api: TestClient, clock: FakeClock, host: dict[str, str], action: str, problem: str
) -> None:
    booking = book(api)
    clock.now = datetime(2026, 6, 3, 19, 30, tzinfo=UTC)
    assert api.post(f"/v1/reservations/{booking.code}/{action}", headers=host).status_code == 200
    answer = api.get(f"/v1/reservations/{booking.code}/qr", params={"token": booking.manage_token})
    assert answer.status_code == 409
    assert answer.json()["code"] == problem
