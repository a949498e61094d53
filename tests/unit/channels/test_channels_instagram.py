"""Instagram messaging adapter: webhook bodies in, Graph API calls out.

Inbound bodies are the byte-exact fixtures under tests/fixtures/channels/instagram
(invented ids and names, in the shapes Meta sends); outbound calls go to the
loopback recording server standing in for the Graph API.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saveit.channels.instagram.inbound import parse
from saveit.channels.instagram.sender import InstagramSender
from saveit.domain.channel_ports import ChannelAccount, MalformedPayload, SendContext, SendFailed
from saveit.domain.messages import Button, Choice, Image, ListOption, OutboundMessage
from tests.recording_http import RecordingServer, recording_server

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels" / "instagram"
IGID = "17841400000000001"
GUEST = "6500000000000001"
TOKEN = "IGAAtest-instagram-token-0001"
ACCOUNT = ChannelAccount(1, "instagram", IGID, {"access_token": TOKEN})
CTX = SendContext(message_id="out-1", language="es")


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- parsing ------------------------------------------------------------------------


def test_a_text_message_with_accents_and_emoji_answering_our_message() -> None:
    batch = parse(body("text.json"))
    assert batch.statuses == []
    assert batch.ignored == []
    [msg] = batch.messages
    assert msg.channel == "instagram"
    assert (
        msg.provider_message_id
        == "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjAwMDAwMDAx"
    )
    assert msg.sender == GUEST
    assert msg.recipient == IGID
    assert msg.text == "¿Hay mesa para 2 el sábado? 🍷"
    assert msg.sent_at == datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert msg.reply_to == "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOk9VVDAwMDAx"
    assert msg.choice is None
    assert msg.sender_name is None
    assert json.loads(msg.raw)["sender"] == {"id": GUEST}
    assert "🍷" in msg.raw


def test_a_quick_reply_tap_is_a_choice() -> None:
    [msg] = parse(body("quick_reply.json")).messages
    assert msg.choice == Choice("slot:2026-01-03T21:00", "21:00")
    assert msg.text == "21:00"


def test_our_own_message_echoed_back_is_ignored() -> None:
    batch = parse(body("echo.json"))
    assert batch.messages == []
    [reason] = batch.ignored
    assert "echo" in reason
    assert "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOk9VVDAwMDAy" in reason


def test_every_entry_of_a_batched_body_is_read() -> None:
    batch = parse(body("batched.json"))
    assert [(m.recipient, m.sender, m.text) for m in batch.messages] == [
        (IGID, "6500000000000002", "Hola"),
        ("17841400000000002", "6500000000000004", "¿Abrís el lunes?"),
    ]
    ignored = "\n".join(batch.ignored)
    assert len(batch.ignored) == 4
    assert "(read)" in ignored  # a read receipt
    assert "attachments only" in ignored
    assert "(reaction)" in ignored
    assert "'comments'" in ignored  # the changes[] form


def test_a_message_without_our_echo_flag_but_sent_by_our_account_is_still_an_echo() -> None:
    doc = {"object": "instagram", "entry": [{"id": IGID, "time": 1767261600000, "messaging": [
        {"sender": {"id": IGID}, "recipient": {"id": GUEST}, "timestamp": 1767261600000,
         "message": {"mid": "m1", "text": "Gracias"}}]}]}  # fmt: skip
    batch = parse(json.dumps(doc).encode())
    assert batch.messages == []
    assert "echo" in batch.ignored[0]


def test_the_changes_form_of_a_message_is_ignored_with_a_reason() -> None:
    doc = {"object": "instagram", "entry": [{"id": IGID, "time": 1767261600, "changes": [
        {"field": "messages", "value": {"sender": {"id": GUEST}, "recipient": {"id": IGID},
                                        "timestamp": "1767261600",
                                        "message": {"mid": "m2", "text": "hola"}}}]}]}  # fmt: skip
    batch = parse(json.dumps(doc).encode())
    assert batch.messages == []
    assert batch.ignored == [f"entry {IGID}: change field 'messages' not handled"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xc3(",
        b"{",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": []}',
        b'{"object": "instagram", "entry": "x"}',
    ],
)
def test_bodies_that_are_not_instagram_webhooks_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(raw=st.binary(max_size=300))
def test_any_bytes_give_a_batch_or_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedPayload):
        parse(raw)


@given(event=json_values, message=json_values)
def test_any_event_shape_gives_a_batch(event: object, message: object) -> None:
    if isinstance(event, dict):
        event = {**event, "message": message}
    doc = {"object": "instagram", "entry": [{"id": IGID, "messaging": [event]}]}
    batch = parse(json.dumps(doc).encode())
    assert len(batch.messages) + len(batch.ignored) >= 1


# --- sending ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _graph_server() -> Iterator[RecordingServer]:
    answer = (200, {"recipient_id": GUEST, "message_id": "aWdfMID.SENT0001"})
    with recording_server(default=lambda _r: answer) as server:
        yield server


@pytest.fixture
def graph(_graph_server: RecordingServer) -> RecordingServer:
    _graph_server.requests.clear()
    _graph_server.answers.clear()
    return _graph_server


@pytest.fixture
def sender(graph: RecordingServer) -> Iterator[InstagramSender]:
    s = InstagramSender(graph.url, "v21.0", timeout_s=5)
    yield s
    s.close()


def test_text_goes_to_our_account_with_the_bearer_token(
    graph: RecordingServer, sender: InstagramSender
) -> None:
    result = sender.send(ACCOUNT, GUEST, OutboundMessage("¡Hola! ¿Para cuántos? 🍽"), CTX)
    assert result.provider_message_id == "aWdfMID.SENT0001"
    [req] = graph.requests
    assert req.method == "POST"
    assert req.path == f"/v21.0/{IGID}/messages"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.json() == {
        "recipient": {"id": GUEST},
        "message": {"text": "¡Hola! ¿Para cuántos? 🍽"},
    }


def test_buttons_become_quick_replies(graph: RecordingServer, sender: InstagramSender) -> None:
    message = OutboundMessage(
        "¿Confirmas?", buttons=(Button("yes", "Sí"), Button("change", "Cambiar hora de la reserva"))
    )
    sender.send(ACCOUNT, GUEST, message, CTX)
    assert graph.requests[0].json() == {
        "recipient": {"id": GUEST},
        "message": {
            "text": "¿Confirmas?",
            "quick_replies": [
                {"content_type": "text", "title": "Sí", "payload": "yes"},
                {"content_type": "text", "title": "Cambiar hora de la…", "payload": "change"},
            ],
        },
    }


def test_list_options_become_quick_replies_too(
    graph: RecordingServer, sender: InstagramSender
) -> None:
    options = tuple(ListOption(f"slot:{h}", f"{h}:00", "Terraza") for h in range(13, 23))
    sender.send(ACCOUNT, GUEST, OutboundMessage("Horas libres:", options=options), CTX)
    sent = graph.requests[0].json()["message"]
    assert sent["text"] == "Horas libres:"
    assert [q["payload"] for q in sent["quick_replies"]] == [o.id for o in options]
    assert sent["quick_replies"][0] == {
        "content_type": "text",
        "title": "13:00",
        "payload": "slot:13",
    }


def test_text_is_cut_to_a_thousand_bytes(graph: RecordingServer, sender: InstagramSender) -> None:
    sender.send(ACCOUNT, GUEST, OutboundMessage("ñ" * 800), CTX)  # 1600 bytes
    text = graph.requests[0].json()["message"]["text"]
    assert len(text.encode()) <= 1000
    assert text == "ñ" * 498 + "…"


def test_an_image_by_url_is_a_second_message(
    graph: RecordingServer, sender: InstagramSender
) -> None:
    graph.queue(
        (200, {"recipient_id": GUEST, "message_id": "mid.TEXT"}),
        (200, {"recipient_id": GUEST, "message_id": "mid.IMAGE"}),
    )
    message = OutboundMessage("Tu código", image=Image(url="https://cdn.example.test/qr/1.png"))
    result = sender.send(ACCOUNT, GUEST, message, CTX)
    assert result.provider_message_id == "mid.TEXT"
    assert [r.json() for r in graph.requests] == [
        {"recipient": {"id": GUEST}, "message": {"text": "Tu código"}},
        {
            "recipient": {"id": GUEST},
            "message": {
                "attachment": {
                    "type": "image",
                    "payload": {"url": "https://cdn.example.test/qr/1.png"},
                }
            },
        },
    ]


def test_an_image_alone_and_an_image_without_url(
    graph: RecordingServer, sender: InstagramSender
) -> None:
    sender.send(
        ACCOUNT, GUEST, OutboundMessage("", image=Image(url="https://cdn.example.test/m.jpg")), CTX
    )
    sender.send(ACCOUNT, GUEST, OutboundMessage("Menú", image=Image(data=b"\xff\xd8")), CTX)
    assert [list(r.json()["message"]) for r in graph.requests] == [["attachment"], ["text"]]


def test_a_failed_image_after_the_text_does_not_fail_the_send(
    graph: RecordingServer, sender: InstagramSender, caplog: pytest.LogCaptureFixture
) -> None:
    graph.queue(
        (200, {"recipient_id": GUEST, "message_id": "mid.TEXT"}),
        (500, {"error": {"message": "An unexpected error has occurred.", "code": 2}}),
    )
    message = OutboundMessage("Hola", image=Image(url="https://cdn.example.test/x.png"))
    with caplog.at_level(logging.WARNING):
        assert sender.send(ACCOUNT, GUEST, message, CTX).provider_message_id == "mid.TEXT"
    assert "mid.TEXT" in caplog.text
    assert TOKEN not in caplog.text


def test_outside_the_window_nothing_is_sent(
    graph: RecordingServer, sender: InstagramSender
) -> None:
    with pytest.raises(SendFailed) as caught:
        sender.send(ACCOUNT, GUEST, OutboundMessage("Hola"), SendContext("o", window_open=False))
    assert caught.value.code == "WINDOW_CLOSED"
    assert caught.value.retryable is False
    assert graph.requests == []


def test_missing_token_and_empty_message_fail_without_a_call(
    graph: RecordingServer, sender: InstagramSender
) -> None:
    with pytest.raises(SendFailed) as no_token:
        sender.send(ChannelAccount(1, "instagram", IGID), GUEST, OutboundMessage("Hola"), CTX)
    with pytest.raises(SendFailed) as empty:
        sender.send(ACCOUNT, GUEST, OutboundMessage(" "), CTX)
    assert no_token.value.code == "NO_TOKEN"
    assert empty.value.code == "EMPTY"
    assert graph.requests == []
