"""What one anonymous client may make a restaurant do (``saveit.ratelimit.abuse``):
bookings per IP and per restaurant, verification codes per contact, per IP and per
day, web chat sessions and sockets per IP. Counted in process memory and in Redis."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.api.routers import webchat
from saveit.bootstrap import Container, build
from saveit.channels.webchat.protocol import CHAT_SUBPROTOCOL, SESSION_SUBPROTOCOL
from saveit.config import Settings
from saveit.domain.messages import InboundMessage, WebhookBatch
from saveit.store import channel_accounts as accounts
from saveit.store import restaurants as restaurant_store
from saveit.store.schema import channel_messages, reservations
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

pytestmark = pytest.mark.timeout(120)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOOK = "/v1/restaurants/demo/reservations"
LIMITS: dict[str, Any] = {
    "ratelimit_create_ip_per_hour": 3,
    "ratelimit_unverified_per_restaurant_per_hour": 5,
    "codes_per_contact_per_hour": 2,
    "codes_per_ip_per_hour": 3,
    "codes_per_restaurant_per_day": 4,
    "webchat_connections_per_ip": 2,
    "webchat_sessions_per_ip_per_hour": 3,
}
_ids = itertools.count(1)


@pytest.fixture(params=["memory", "redis"])
def limited(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> Iterator[Container]:
    """The demo restaurant with an SMS account, small limits, counted in memory or Redis."""
    update: dict[str, Any] = {**LIMITS, "relay_in_process": None, "redis_url": None}
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    if request.param == "redis":
        redis_url: str = request.getfixturevalue("redis_url")
        update |= {
            "redis_url": SecretStr(redis_url),
            "redis_prefix": prefix,
            "events_stream": f"{prefix}:events",
            "relay_in_process": True,  # one process: its own relay and live feed
        }
    container = build(settings.model_copy(update=update), clock=clock, migrate=False)
    if request.param == "redis":
        assert container.abuse is not None
        assert container.abuse.limiter.shared is not None
    apply_spec(container.engine, parse_document(demo_document()))
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        accounts.put(
            conn, rid, "sms", "+34910000000", {}, clock(), box=container.box, proven_by="admin"
        )
    yield container
    container.close()
    if request.param == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def client_at(container: Container, ip: str) -> TestClient:
    app = create_app(container)
    if not any(getattr(r, "path", None) == "/ws/chat/{slug}" for r in app.routes):
        app.include_router(webchat.router)
    return TestClient(app, client=(ip, 50000))


def booking(n: int, **extra: Any) -> dict[str, Any]:
    """A distinct guest each time (the per-guest limit never bites)."""
    hour, quarter = divmod(n, 4)
    return {
        "date": "2026-06-03",
        "time": f"{20 + hour % 3}:{15 * quarter:02d}",
        "party_size": 2,
        "name": f"Guest {n}",
        "phone": f"6001112{n:02d}",
        **extra,
    }


def count_bookings(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def assert_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1


# --- bookings -------------------------------------------------------------------------


def test_one_address_cannot_fill_a_service_by_inventing_guests(limited: Container) -> None:
    """Fails before the fix: only the guest's (client-chosen) phone or email was
    limited, so one client booked table after table under new names (201s)."""
    with client_at(limited, "203.0.113.7") as api:
        made = [api.post(BOOK, json=booking(n)).status_code for n in range(3)]
        assert made == [201] * 3
        assert_limited(api.post(BOOK, json=booking(3)))
        staff = api.post(BOOK, json=booking(4), headers=ADMIN)
        assert staff.status_code == 201, staff.text  # staff are not the public
    with client_at(limited, "198.51.100.9") as other:
        assert other.post(BOOK, json=booking(5)).status_code == 201
    assert count_bookings(limited) == 5


def test_many_addresses_cannot_fill_a_restaurant_either(limited: Container) -> None:
    """Fails before the fix: nothing bounded a restaurant's anonymous bookings."""
    for n in range(5):
        with client_at(limited, f"203.0.113.{n + 1}") as api:
            assert api.post(BOOK, json=booking(n)).status_code == 201
    with client_at(limited, "203.0.113.99") as api:
        refused = api.post(BOOK, json=booking(5))
        assert_limited(refused)
        assert "call" in refused.json()["detail"]
        assert api.post(BOOK, json=booking(6), headers=ADMIN).status_code == 201
    assert count_bookings(limited) == 6


# --- verification codes -----------------------------------------------------------------


def chat(container: Container, session: str, ip: str, text: str) -> str:
    """A web chat visitor at ``ip`` writes; the bot's answer."""
    assert container.gateway is not None
    message = InboundMessage(
        channel="webchat",
        provider_message_id=f"{session}:{next(_ids)}",
        sender=session,
        recipient="demo",
        text=text,
        sent_at=datetime(2026, 6, 1, 9, tzinfo=UTC),
        client_ip=ip,
    )
    container.gateway.receive(WebhookBatch(messages=[message]))
    while container.gateway.answer_inbound():
        pass
    with container.engine.connect() as conn:
        return str(
            conn.execute(
                select(channel_messages.c.text)
                .where(
                    channel_messages.c.direction == "out",
                    channel_messages.c.channel == "webchat",
                    channel_messages.c.address == session,
                )
                .order_by(channel_messages.c.id.desc())
                .limit(1)
            ).scalar_one()
        )


def codes_sent(container: Container) -> list[str]:
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                select(channel_messages.c.address)
                .where(
                    channel_messages.c.direction == "out",
                    channel_messages.c.channel == "sms",
                )
                .order_by(channel_messages.c.id)
            ).scalars()
        )


def capped(reply: str) -> bool:
    return "más códigos" in reply or "more verification codes" in reply


def test_a_chat_visitor_cannot_pump_codes_to_a_number(limited: Container) -> None:
    """Fails before the fix: every claim of a number sent it another SMS, without end."""
    session = "wc_" + "a" * 32
    first = chat(limited, session, "203.0.113.7", "soy el 600 111 222")
    assert "600 111 222" in first
    assert not capped(first)
    chat(limited, "wc_" + "b" * 32, "198.51.100.1", "soy el 600111222")
    third = chat(limited, session, "203.0.113.7", "soy el 600111222")
    assert capped(third), third
    assert codes_sent(limited) == ["+34600111222"] * 2


def test_one_visitor_cannot_pump_codes_to_many_numbers_or_the_restaurant_all_day(
    limited: Container,
) -> None:
    """Fails before the fix: one visitor could have a code sent to any number, as
    often as it liked, and so could everyone together."""
    session = "wc_" + "c" * 32
    for n in range(3):
        assert not capped(chat(limited, session, "203.0.113.7", f"soy el 60011130{n}"))
    assert capped(chat(limited, session, "203.0.113.7", "soy el 600111309"))  # per IP
    other = "wc_" + "d" * 32
    assert not capped(chat(limited, other, "198.51.100.1", "soy el 600111310"))
    assert capped(chat(limited, other, "198.51.100.2", "soy el 600111311"))  # per day
    assert len(codes_sent(limited)) == 4


def test_booking_codes_count_against_the_same_caps(limited: Container) -> None:
    """Fails before the fix: no booking was held, and no code cap existed."""
    with client_at(limited, "203.0.113.7") as api:
        rules = api.get("/v1/restaurants/demo/rules", headers=ADMIN).json()
        on = api.put(
            "/v1/restaurants/demo/rules",
            json={**rules, "verify_public_bookings": True},
            headers=ADMIN,
        )
        assert on.status_code == 200, on.text
        same = {"phone": "600111222"}
        assert api.post(BOOK, json=booking(0, **same)).status_code == 201
        assert api.post(BOOK, json=booking(1, **same, name="Guest 0")).status_code == 201
        refused = api.post(BOOK, json=booking(2, **same, name="Guest 0"))
    assert_limited(refused)
    assert codes_sent(limited) == ["+34600111222"] * 2
    with limited.engine.connect() as conn:  # a refused code leaves no hold behind
        statuses = conn.execute(select(reservations.c.status).order_by(reservations.c.id))
        assert list(statuses.scalars()) == ["pending", "pending", "cancelled"]


# --- web chat sockets -------------------------------------------------------------------


def returning(token: str) -> list[str]:
    """A returning guest's widget offers its session token as a subprotocol."""
    return [CHAT_SUBPROTOCOL, SESSION_SUBPROTOCOL + token]


def test_new_chat_sessions_per_address_are_capped(limited: Container) -> None:
    """Fails before the fix: WebSockets skipped the rate limiter; every connection
    without a token was a new guest, without limit."""
    with client_at(limited, "203.0.113.7") as api:
        tokens = []
        for _ in range(3):
            with api.websocket_connect("/ws/chat/demo") as ws:
                tokens.append(ws.receive_json()["session"])
        with pytest.raises(WebSocketDisconnect) as refused, api.websocket_connect("/ws/chat/demo"):
            pass
        assert refused.value.code == 1008
        with api.websocket_connect("/ws/chat/demo", subprotocols=returning(tokens[0])) as ws:
            assert ws.receive_json()["type"] == "session"  # a returning guest is welcome
    with (
        client_at(limited, "198.51.100.1") as other,
        other.websocket_connect("/ws/chat/demo") as ws,
    ):
        assert ws.receive_json()["type"] == "session"


def test_open_sockets_per_address_are_capped(limited: Container) -> None:
    """Fails before the fix: one address could hold any number of sockets open."""
    with client_at(limited, "203.0.113.7") as api:
        with api.websocket_connect("/ws/chat/demo") as one:
            token = one.receive_json()["session"]
            with api.websocket_connect("/ws/chat/demo", subprotocols=returning(token)) as two:
                assert two.receive_json()["type"] == "session"
                with api.websocket_connect("/ws/chat/demo", subprotocols=returning(token)) as three:
                    with pytest.raises(WebSocketDisconnect) as closed:
                        three.receive_json()
                    assert closed.value.code == 1008
        with api.websocket_connect("/ws/chat/demo", subprotocols=returning(token)) as again:
            assert again.receive_json()["type"] == "session"  # closing frees a place
