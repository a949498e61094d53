"""The web chat socket on SQLite and PostgreSQL, in the embedded default's shape
(relay, live hub and channel workers inside the app): sessions, send and reply,
history on reconnect, one guest never seeing another's, quick replies, typing,
refusals, deduplication, and the widget and demo page routes; and once across
two app instances sharing a Redis event stream (production's shape)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.api.routers import webchat
from saveit.bootstrap import Container, build
from saveit.channels.webchat.protocol import MAX_FRAME_BYTES, MAX_TEXT
from saveit.config import Settings
from saveit.domain.messages import Button, Choice, OutboundMessage
from saveit.messaging.gateway import Reply, Turn
from saveit.messaging.inbox import InboxResponder
from saveit.store.schema import channel_identities, channel_messages, conversations
from tests.support import FakeClock, demo_document

pytestmark = pytest.mark.timeout(60)  # a frame that never comes fails the test, not the run

THANKS = "Gracias por escribir a Casa Demo"


def with_webchat(app: FastAPI) -> FastAPI:
    """The app as the composition root builds it, with the web chat routes."""
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/ws/chat/{slug}" not in paths:
        app.include_router(webchat.router)
    return app


class Quick:
    """Offers two buttons on first contact and answers a tapped one by its id;
    otherwise behaves like the default inbox responder."""

    def __init__(self) -> None:
        self.choices: list[Choice | None] = []

    def respond(self, turn: Turn) -> Reply:
        self.choices.append(turn.choice)
        if turn.choice is not None:
            return Reply([OutboundMessage(text=f"picked {turn.choice.id}")])
        if turn.first_contact:
            buttons = (Button("yes", "Sí, reservar"), Button("no", "No, gracias"))
            return Reply([OutboundMessage(text="¿Reservamos?", buttons=buttons)])
        return Reply()


@pytest.fixture
def responder() -> InboxResponder | Quick:
    return InboxResponder()


@pytest.fixture
def chat_app(
    settings: Settings, clock: FakeClock, responder: InboxResponder | Quick
) -> Iterator[tuple[TestClient, Container]]:
    embedded = settings.model_copy(update={"relay_in_process": None, "redis_url": None})
    container = build(embedded, clock=clock, migrate=False, responder=responder)
    apply_spec(container.engine, parse_document(demo_document()))
    with TestClient(with_webchat(create_app(container))) as client:
        started(client)
        yield client, container


def started(client: TestClient) -> None:
    """Wait for the live feed to fix its starting point: events committed before
    that are history (restored on connect), not live, and a test that writes in
    the first milliseconds after startup would otherwise wait for them in vain."""
    hub = client.app.state.live_hub  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while hub.mode == "starting":
        assert time.monotonic() < deadline, "the live feed did not start"
        time.sleep(0.01)


@pytest.fixture
def api(chat_app: tuple[TestClient, Container]) -> TestClient:
    return chat_app[0]


@pytest.fixture
def container(chat_app: tuple[TestClient, Container]) -> Container:
    return chat_app[1]


def connect(api: TestClient, session: str | None = None) -> WebSocketTestSession:
    """As the widget does: the session token is a subprotocol, never in the URL."""
    offered = ["saveit.chat"] + ([f"saveit.session.{session}"] if session is not None else [])
    return api.websocket_connect("/ws/chat/demo", subprotocols=offered)


def opening(ws: WebSocketTestSession) -> tuple[str, list[dict[str, Any]]]:
    """The session token and the history: the first two frames of every connection."""
    session = ws.receive_json()
    assert session["type"] == "session", session
    history = ws.receive_json()
    assert history["type"] == "history", history
    token: str = session["session"]
    messages: list[dict[str, Any]] = history["messages"]
    return token, messages


def until(ws: WebSocketTestSession, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Skip frames up to the first that matches (typing frames come and go)."""
    while True:
        frame: dict[str, Any] = ws.receive_json()
        if matches(frame):
            return frame


def is_(type_: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame["type"] == type_


def quiet(ws: WebSocketTestSession) -> None:
    """Nothing else is on its way: a ping's pong is the next frame but for typing."""
    ws.send_json({"type": "ping"})
    frame = until(ws, lambda f: f["type"] != "typing")
    assert frame == {"type": "pong"}


def say(ws: WebSocketTestSession, client_id: str, text: str) -> None:
    ws.send_json({"type": "message", "id": client_id, "text": text})


def count_messages(container: Container, **where: Any) -> int:
    query = select(func.count()).select_from(channel_messages)
    for column, value in where.items():
        query = query.where(channel_messages.c[column] == value)
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_guest_writes_is_answered_and_finds_both_on_reconnect(api: TestClient) -> None:
    with connect(api) as ws:
        token, history = opening(ws)
        assert len(token) == 32
        assert history == []
        say(ws, "m-1", "Hola, ¿tenéis mesa para dos?")
        assert ws.receive_json() == {"type": "ack", "id": "m-1", "duplicate": False}
        assert ws.receive_json() == {"type": "typing", "active": True}
        reply = until(ws, is_("message"))["message"]
        assert reply["direction"] == "out"
        assert reply["author"] == "bot"
        assert reply["channel"] == "webchat"
        assert THANKS in reply["text"]
        assert reply["buttons"] == []
        assert reply["options"] == []

    with connect(api, token) as ws:
        again, history = opening(ws)
        assert again == token
        assert [(m["direction"], m["author"]) for m in history] == [("in", "guest"), ("out", "bot")]
        assert history[0]["text"] == "Hola, ¿tenéis mesa para dos?"
        assert history[0]["client_id"] == "m-1"
        assert history[1]["id"] == reply["id"]
        assert THANKS in history[1]["text"]
        quiet(ws)


def test_a_second_session_sees_nothing_of_the_first(api: TestClient, container: Container) -> None:
    with connect(api) as first, connect(api) as second:
        first_token, _ = opening(first)
        second_token, second_history = opening(second)
        assert second_token != first_token
        assert second_history == []
        say(first, "a-1", "mensaje del primero")
        until(first, is_("message"))
        say(second, "a-1", "mensaje del segundo")  # the same client id, another guest
        assert until(second, is_("ack")) == {"type": "ack", "id": "a-1", "duplicate": False}
        own = until(second, is_("message"))["message"]
        assert own["direction"] == "out"
        quiet(second)  # the first guest's message and reply never reached it
    with connect(api, second_token) as again:
        _, history = opening(again)
        assert [m["text"] for m in history if m["direction"] == "in"] == ["mensaje del segundo"]
    with container.engine.connect() as conn:
        identities = conn.execute(select(channel_identities.c.external_id)).scalars().all()
        assert len(identities) == 2
    # The token is never stored: identities are derived from it.
    assert all(i.startswith("wc_") for i in identities)
    assert first_token not in identities
    assert second_token not in identities


def test_a_staff_reply_reaches_the_open_widget(api: TestClient, container: Container) -> None:
    with connect(api) as ws:
        opening(ws)
        say(ws, "s-1", "¿Tenéis terraza?")
        until(ws, is_("message"))
        with container.engine.connect() as conn:
            conversation_id = conn.execute(select(conversations.c.id)).scalar_one()
        assert container.gateway is not None
        container.gateway.send_to_conversation(
            conversation_id, OutboundMessage(text="Sí, con 6 mesas."), author="staff:ana"
        )
        pushed = until(ws, is_("message"))["message"]
        # The guest sees "staff" (the widget says "el equipo"), never the token's name.
        assert (pushed["text"], pushed["author"]) == ("Sí, con 6 mesas.", "staff")


def test_the_bot_stops_typing_when_it_has_nothing_to_say(api: TestClient) -> None:
    with connect(api) as ws:
        opening(ws)
        say(ws, "t-1", "hola")
        until(ws, is_("message"))
        say(ws, "t-2", "otra cosa")  # the inbox acknowledges only the first message
        assert ws.receive_json()["type"] == "ack"
        assert ws.receive_json() == {"type": "typing", "active": True}
        assert ws.receive_json() == {"type": "typing", "active": False}


@pytest.mark.parametrize("responder", [Quick()], ids=["quick-replies"])
def test_quick_replies_come_as_buttons_and_go_back_as_choices(
    api: TestClient, responder: Quick
) -> None:
    with connect(api) as ws:
        token, _ = opening(ws)
        say(ws, "q-1", "quiero reservar")
        offer = until(ws, is_("message"))["message"]
        assert offer["buttons"] == [
            {"id": "yes", "title": "Sí, reservar"},
            {"id": "no", "title": "No, gracias"},
        ]
        ws.send_json({"type": "choice", "id": "q-2", "choice": offer["buttons"][0]})
        assert until(ws, is_("ack"))["id"] == "q-2"
        answer = until(ws, is_("message"))["message"]
        assert answer["text"] == "picked yes"
    assert responder.choices[-1] == Choice("yes", "Sí, reservar")
    with connect(api, token) as ws:
        _, history = opening(ws)
        tapped = history[2]
        assert (tapped["direction"], tapped["text"]) == ("in", "Sí, reservar")
        assert tapped["choice"] == {"id": "yes", "title": "Sí, reservar"}
        assert history[1]["buttons"][1]["id"] == "no"


def test_the_same_client_id_is_stored_once_even_across_reconnects(
    api: TestClient, container: Container
) -> None:
    with connect(api) as ws:
        token, _ = opening(ws)
        say(ws, "d-1", "una vez")
        say(ws, "d-1", "una vez")
        acks: list[dict[str, Any]] = []
        replies = 0
        while len(acks) < 2 or not replies:  # the reply may overtake the second ack
            frame = until(ws, lambda f: f["type"] in ("ack", "message"))
            if frame["type"] == "ack":
                acks.append(frame)
            else:
                replies += 1
        assert [a["duplicate"] for a in acks] == [False, True]
        assert {a["id"] for a in acks} == {"d-1"}
    with connect(api, token) as ws:  # a widget resending after a lost ack
        opening(ws)
        say(ws, "d-1", "una vez")
        assert ws.receive_json() == {"type": "ack", "id": "d-1", "duplicate": True}
        quiet(ws)
    assert count_messages(container, direction="in") == 1
    assert count_messages(container, direction="out") == 1


def test_a_reply_reaches_a_widget_connected_to_another_process(
    settings: Settings, clock: FakeClock, redis_url: str, redis_stream: str
) -> None:
    """Two app instances on one database and one Redis stream (the production
    shape): the widget is on A, staff answer through B, the event travels the
    stream to A's hub and on to the widget."""
    prefix = redis_stream.rpartition(":")[0]
    shared = {
        "chat_bot": False,  # the staff inbox answers: the test is about the way there
        "redis_url": SecretStr(redis_url),
        "redis_prefix": prefix,
        "events_stream": redis_stream,
    }
    a = build(
        settings.model_copy(update={**shared, "relay_in_process": True}), clock=clock, migrate=False
    )
    b = build(
        settings.model_copy(update={**shared, "relay_in_process": False}),
        clock=clock,
        migrate=False,
    )
    apply_spec(a.engine, parse_document(demo_document()))
    with (
        TestClient(with_webchat(create_app(a))) as on_a,
        TestClient(with_webchat(create_app(b))) as on_b,
    ):
        started(on_a)
        started(on_b)
        with connect(on_a) as ws:
            opening(ws)
            say(ws, "x-1", "hola")
            assert THANKS in until(ws, is_("message"))["message"]["text"]
            with b.engine.connect() as conn:
                conversation_id = conn.execute(select(conversations.c.id)).scalar_one()
            assert b.gateway is not None
            b.gateway.send_to_conversation(
                conversation_id, OutboundMessage(text="Desde B"), author="staff:b"
            )
            assert until(ws, is_("message"))["message"]["text"] == "Desde B"


BAD_FRAMES: list[tuple[str, Any, str, str | None]] = [
    ("not json", "{nope", "BAD_FRAME", None),
    ("not an object", "[1, 2]", "BAD_FRAME", None),
    ("unknown type", {"type": "shout"}, "UNKNOWN_TYPE", None),
    ("no type", {"text": "hola"}, "UNKNOWN_TYPE", None),
    ("no id", {"type": "message", "text": "hola"}, "BAD_ID", None),
    ("bad id", {"type": "message", "id": "a b/c", "text": "hola"}, "BAD_ID", None),
    ("long id", {"type": "message", "id": "x" * 65, "text": "hola"}, "BAD_ID", None),
    ("empty text", {"type": "message", "id": "e1", "text": "  "}, "BAD_TEXT", "e1"),
    ("text not a string", {"type": "message", "id": "e2", "text": 5}, "BAD_TEXT", "e2"),
    ("NUL", {"type": "message", "id": "e3", "text": "a\x00b"}, "BAD_TEXT", "e3"),
    (
        "too long",
        {"type": "message", "id": "e4", "text": "x" * (MAX_TEXT + 1)},
        "TEXT_TOO_LONG",
        "e4",
    ),
    ("choice not an object", {"type": "choice", "id": "e5", "choice": "yes"}, "BAD_CHOICE", "e5"),
    (
        "choice without title",
        {"type": "choice", "id": "e6", "choice": {"id": "y"}},
        "BAD_CHOICE",
        "e6",
    ),
    (
        "oversized frame",
        {"type": "message", "id": "e7", "text": "é" * 4200},
        "FRAME_TOO_LARGE",
        None,
    ),
]


def test_malformed_frames_get_error_frames_and_store_nothing(
    api: TestClient, container: Container
) -> None:
    with connect(api) as ws:
        opening(ws)
        for name, frame, code, client_id in BAD_FRAMES:
            if isinstance(frame, str):
                ws.send_text(frame)
            else:
                ws.send_json(frame)
            error = ws.receive_json()
            assert error["type"] == "error", name
            assert (error["code"], error["id"]) == (code, client_id), name
            assert error["detail"], name
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == "BAD_FRAME"
        ws.send_bytes(b"x" * (MAX_FRAME_BYTES + 1))
        assert ws.receive_json()["code"] == "FRAME_TOO_LARGE"
        # Still open and working after all of that.
        say(ws, "ok-1", "x" * MAX_TEXT)
        assert ws.receive_json() == {"type": "ack", "id": "ok-1", "duplicate": False}
    assert count_messages(container, direction="in") == 1


def test_a_flood_of_messages_is_slowed_down(api: TestClient) -> None:
    with connect(api) as ws:
        opening(ws)
        codes = []
        for n in range(webchat.MESSAGE_BURST * 2):
            say(ws, f"f-{n}", "spam")
            codes.append(until(ws, lambda f: f["type"] in ("ack", "error")).get("code"))
        assert codes[: webchat.MESSAGE_BURST] == [None] * webchat.MESSAGE_BURST
        assert "RATE_LIMITED" in codes


def test_an_unknown_restaurant_is_closed_with_4404(api: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        api.websocket_connect("/ws/chat/nowhere") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4404


def test_a_malformed_session_gets_a_new_one(api: TestClient) -> None:
    with connect(api, "short") as ws:
        token, history = opening(ws)
        assert token != "short"
        assert len(token) == 32
        assert history == []


def test_the_widget_script_is_served_cacheable(api: TestClient) -> None:
    got = api.get("/widget.js")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/javascript")
    assert "public" in got.headers["cache-control"]
    assert "max-age" in got.headers["cache-control"]
    assert "/ws/chat/" in got.text
    assert "data-restaurant" in got.text
    assert "innerHTML" not in got.text
    etag = got.headers["etag"]
    again = api.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_the_demo_page_embeds_the_widget(api: TestClient) -> None:
    page = api.get("/chat/demo?lang=en")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js" data-restaurant="demo" data-lang="en" async>' in page.text
    assert "Casa Demo" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert api.get("/chat/nowhere").status_code == 404
    assert api.get("/chat/demo?lang=fr").status_code == 422
