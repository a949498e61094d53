"""Public bookings held until the guest proves their phone or email (the rule
``verify_public_bookings``): a code goes out, the right one confirms, wrong ones
run out, and an unverified hold expires and frees its table. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saveit.api.app import create_app
from saveit.bootstrap import Container
from saveit.events.consumer import Consumer
from saveit.events.processed import SqlProcessedStore
from saveit.store import channel_accounts as accounts
from saveit.store import restaurants as restaurant_store
from saveit.store.schema import channel_messages, outbox, reservation_log, reservations
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOOK = "/v1/restaurants/demo/reservations"
ANA: dict[str, Any] = {
    "date": "2026-06-03",
    "time": "21:00",
    "party_size": 2,
    "name": "Ana",
    "phone": "600111222",
}
SMS_NUMBER = "+34910000000"


@pytest.fixture
def api(container: Container, demo: str, clock: FakeClock) -> Iterator[TestClient]:
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, demo)
        for channel, address in (("sms", SMS_NUMBER), ("email", "reservas@demo.example")):
            accounts.put(
                conn, rid, channel, address, {}, clock(), box=container.box, proven_by="admin"
            )
    with TestClient(create_app(container)) as client:
        rules = client.get("/v1/restaurants/demo/rules", headers=ADMIN).json()
        turned_on = client.put(
            "/v1/restaurants/demo/rules",
            json={**rules, "verify_public_bookings": True},
            headers=ADMIN,
        )
        assert turned_on.status_code == 200, turned_on.text
        assert turned_on.json()["verify_public_bookings"] is True
        profile = client.get("/v1/restaurants/demo").json()
        assert profile["booking"]["verify_public_bookings"] is True  # a site asks for the code
        yield client


def sent_code(container: Container, to: str) -> str:
    """The last verification code queued for ``to`` (the gateway's delivery sends it)."""
    with container.engine.connect() as conn:
        texts = conn.execute(
            select(channel_messages.c.text)
            .where(
                channel_messages.c.direction == "out",
                channel_messages.c.address == to,
                channel_messages.c.author == "system:verification",
            )
            .order_by(channel_messages.c.id)
        ).scalars()
        found = [re.search(r"\b(\d{6})\b", text) for text in texts]
    codes = [m.group(1) for m in found if m]
    assert codes, f"no code was sent to {to}"
    return codes[-1]


def status_of(container: Container, code: str) -> str:
    with container.engine.connect() as conn:
        return str(
            conn.execute(select(reservations.c.status).where(reservations.c.code == code)).scalar()
        )


def log_of(container: Container, code: str) -> list[tuple[str, str]]:
    with container.engine.connect() as conn:
        rid = conn.execute(select(reservations.c.id).where(reservations.c.code == code)).scalar()
        rows = conn.execute(
            select(reservation_log.c.action, reservation_log.c.actor)
            .where(reservation_log.c.reservation_id == rid)
            .order_by(reservation_log.c.id)
        ).all()
    return [(r.action, r.actor) for r in rows]


def events(container: Container) -> list[str]:
    with container.engine.connect() as conn:
        return list(conn.execute(select(outbox.c.type).order_by(outbox.c.id)).scalars())


def test_a_public_booking_waits_for_the_code_sent_to_the_guests_phone(
    api: TestClient, container: Container
) -> None:
    """Fails before the fix: there was no such rule (PUT rules answered 422), and a
    public booking was confirmed whatever phone it named."""
    made = api.post(BOOK, json=ANA)
    assert made.status_code == 201, made.text
    body = made.json()
    code, token = body["reservation"]["code"], body["manage_token"]
    assert body["reservation"]["status"] == "pending"
    assert body["verification"]["channel"] == "sms"
    assert body["verification"]["expires_at"].startswith("2026-06-01T11:15:00+02:00")
    secret = sent_code(container, "+34600111222")
    guest = {"X-Manage-Token": token}

    wrong = "000000" if secret != "000000" else "111111"
    refused = api.post(f"/v1/reservations/{code}/verify", json={"code": wrong}, headers=guest)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "VERIFICATION_CODE_INVALID"
    assert refused.json()["attempts_left"] == 4
    assert status_of(container, code) == "pending"

    stranger = api.post(
        f"/v1/reservations/{code}/verify", json={"code": secret}, headers={"X-Manage-Token": "x"}
    )
    assert stranger.status_code == 403
    confirmed = api.post(f"/v1/reservations/{code}/verify", json={"code": secret}, headers=guest)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert log_of(container, code) == [
        ("created", "guest:guest"),
        ("confirmed", "system:verification"),
    ]
    assert events(container)[-2:] == ["reservation.created", "reservation.confirmed"]
    again = api.post(f"/v1/reservations/{code}/verify", json={"code": secret}, headers=guest)
    assert again.status_code == 200  # a retried request changes nothing


def test_an_email_only_guest_gets_the_code_by_email(api: TestClient, container: Container) -> None:
    """Fails before the fix: no code was ever sent; the booking was confirmed at once."""
    made = api.post(BOOK, json={**ANA, "phone": None, "email": "Ana@Casa.example"}).json()
    assert made["reservation"]["status"] == "pending"
    assert made["verification"]["channel"] == "email"
    assert sent_code(container, "Ana@casa.example")


def test_five_wrong_codes_end_the_tries(api: TestClient, container: Container) -> None:
    """Fails before the fix: there was no code to guess, so nothing limited guessing."""
    made = api.post(BOOK, json=ANA).json()
    code, guest = made["reservation"]["code"], {"X-Manage-Token": made["manage_token"]}
    secret = sent_code(container, "+34600111222")
    wrong = "000000" if secret != "000000" else "111111"
    left = [
        api.post(f"/v1/reservations/{code}/verify", json={"code": wrong}, headers=guest).json()[
            "attempts_left"
        ]
        for _ in range(5)
    ]
    assert left == [4, 3, 2, 1, 0]
    late = api.post(f"/v1/reservations/{code}/verify", json={"code": secret}, headers=guest)
    assert late.status_code == 422
    assert late.json()["attempts_left"] == 0
    assert status_of(container, code) == "pending"


def test_an_unverified_hold_expires_and_frees_the_table(
    api: TestClient, container: Container, clock: FakeClock
) -> None:
    """Fails before the fix: an anonymous booking held its table until the evening,
    whoever's phone it named."""
    full = {**ANA, "party_size": 8}  # the only seating for eight: the combination
    made = api.post(BOOK, json=full).json()
    code = made["reservation"]["code"]
    assert made["reservation"]["status"] == "pending"
    staff_try = api.post(BOOK, json={**full, "phone": "600999888"}, headers=ADMIN)
    assert staff_try.status_code == 409  # held: the table is taken

    clock.advance(minutes=14)
    assert container.scheduler is not None
    assert container.scheduler.tick().holds_expired == 0
    clock.advance(minutes=2)
    assert container.scheduler.tick().holds_expired == 1
    assert status_of(container, code) == "cancelled"
    assert log_of(container, code)[-1] == ("cancelled", "system:verification")
    assert events(container)[-1] == "reservation.cancelled"
    assert container.scheduler.tick().holds_expired == 0  # swept once
    late = api.post(
        f"/v1/reservations/{code}/verify",
        json={"code": sent_code(container, "+34600111222")},
        headers={"X-Manage-Token": made["manage_token"]},
    )
    assert late.status_code == 422
    freed = api.post(BOOK, json={**full, "phone": "600999888"}, headers=ADMIN)
    assert freed.status_code == 201, freed.text


def test_staff_bookings_and_bad_codes_are_not_held(api: TestClient, container: Container) -> None:
    staff = api.post(BOOK, json=ANA, headers=ADMIN).json()
    assert staff["reservation"]["status"] == "confirmed"
    assert "verification" not in staff
    code = staff["reservation"]["code"]
    not_held = api.post(f"/v1/reservations/{code}/verify", json={"code": "123456"}, headers=ADMIN)
    assert not_held.status_code == 409
    assert not_held.json()["code"] == "NOT_HELD"
    malformed = api.post(f"/v1/reservations/{code}/verify", json={"code": "12 34"}, headers=ADMIN)
    assert malformed.status_code == 422


def test_no_channel_to_the_guest_means_no_online_booking(
    api: TestClient, container: Container
) -> None:
    """A restaurant that verifies but has no SMS, WhatsApp or email account cannot
    send a code: the booking is refused up front instead of held for nothing."""
    doc = demo_document(slug="quiet", name="Quiet")
    doc["rules"] = {**doc["rules"], "verify_public_bookings": True}
    assert api.post("/v1/restaurants", json=doc, headers=ADMIN).status_code == 201
    refused = api.post("/v1/restaurants/quiet/reservations", json=ANA)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "CANNOT_VERIFY"
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reservations)).scalar() == 0


def notices_to(container: Container, to: str) -> list[str]:
    """What the notifier queued for ``to``, after handing it every event so far."""
    assert container.notifier is not None
    consumer = Consumer(
        container.bus,
        "notifier",
        container.notifier.handle,
        processed=SqlProcessedStore(container.engine),
        block_ms=0,
    )
    container.relay.publish_pending()
    consumer.poll_once(block_ms=0)
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                select(channel_messages.c.author).where(
                    channel_messages.c.direction == "out",
                    channel_messages.c.address == to,
                    channel_messages.c.author != "system:verification",
                )
            ).scalars()
        )


def test_an_unverified_hold_texts_the_number_only_its_code(
    api: TestClient, container: Container, clock: FakeClock
) -> None:
    """Fails before the fix: a public booking sent its "request received" notice, and
    an expired hold its cancellation, to whatever number the client wrote."""
    api.post(BOOK, json=ANA)
    assert notices_to(container, "+34600111222") == []
    clock.advance(minutes=16)
    assert container.scheduler is not None
    assert container.scheduler.tick().holds_expired == 1
    assert notices_to(container, "+34600111222") == []
    verified = api.post(BOOK, json={**ANA, "time": "21:30", "phone": "600111333"}).json()
    api.post(
        f"/v1/reservations/{verified['reservation']['code']}/verify",
        json={"code": sent_code(container, "+34600111333")},
        headers={"X-Manage-Token": verified["manage_token"]},
    )
    assert notices_to(container, "+34600111333") != []  # the confirmation, once proven
