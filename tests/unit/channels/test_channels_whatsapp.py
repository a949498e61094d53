"""WhatsApp Cloud API adapter: webhook bodies in, Graph API calls out.

Inbound bodies are the byte-exact fixtures under tests/fixtures/channels/whatsapp
(invented numbers and names, in the shapes Meta sends). Outbound calls go to the
loopback recording server standing in for the Graph API.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saveit.channels.whatsapp import sender as whatsapp
from saveit.channels.whatsapp.inbound import parse
from saveit.channels.whatsapp.sender import WhatsAppSender
from saveit.domain.channel_ports import ChannelAccount, MalformedPayload, SendContext, SendFailed
from saveit.domain.messages import (
    Attachment,
    Button,
    Choice,
    DeliveryStatus,
    Image,
    ListOption,
    OutboundMessage,
)
from tests.recording_http import RecordingServer, recording_server

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels" / "whatsapp"
PNID = "109876543210001"
TOKEN = "EAAtest-whatsapp-token-0001"
ACCOUNT = ChannelAccount(1, "whatsapp", PNID, {"access_token": TOKEN})
CTX = SendContext(message_id="out-1", language="es")


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- parsing ------------------------------------------------------------------------


def test_a_text_message_with_accents_and_emoji() -> None:
    batch = parse(body("text_escaped.json"))
    assert batch.statuses == []
    assert batch.ignored == []
    [msg] = batch.messages
    assert msg.channel == "whatsapp"
    assert (
        msg.provider_message_id == "wamid.HBgLMzQ2MDAwMDAwMDEVAgASGBQzRUIwMDAwMDAwMDAwMDAwMDAwMQA="
    )
    assert msg.sender == "+34600000001"
    assert msg.sender_name == "María Peña"
    assert msg.recipient == PNID
    assert msg.text == "Hola, ¿mesa para 4 mañana a las 21:00? 😀"
    assert msg.sent_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert msg.choice is None
    assert msg.reply_to is None
    raw = json.loads(msg.raw)
    assert raw["id"] == msg.provider_message_id
    assert raw["type"] == "text"
    assert "😀" in msg.raw  # kept readable, not escaped


def test_the_escaped_and_utf8_forms_of_a_body_read_the_same() -> None:
    assert parse(body("text_utf8.json")) == parse(body("text_escaped.json"))


def test_a_reply_button_tap_is_a_choice_answering_our_message() -> None:
    [msg] = parse(body("button_reply.json")).messages
    assert msg.choice == Choice("confirm:4821", "Confirmar")
    assert msg.text == "Confirmar"
    assert msg.reply_to == "wamid.HBgLMzQ2MDAwMDAwMDIVAgARGBJPVVQwMDAwMDAwMDAwMDAwMQA="
    assert msg.sender == "+34600000002"
    assert msg.sender_name == "Jordi Vidal"


def test_a_list_row_pick_is_a_choice() -> None:
    [msg] = parse(body("list_reply.json")).messages
    assert msg.choice == Choice("slot:2026-01-02T20:30", "20:30")
    assert msg.text == "20:30"
    assert msg.sender == "+447700900003"
    assert msg.reply_to == "wamid.HBgMNDQ3NzAwOTAwMDAzFQIAERgSTElTVDAwMDAwMDAwMDAwMDEA"


def test_statuses_in_the_order_received_with_the_closed_window_failure() -> None:
    batch = parse(body("statuses.json"))
    assert batch.messages == []
    assert batch.ignored == []
    assert [(s.provider_message_id, s.status, s.at) for s in batch.statuses] == [
        ("wamid.OUT0000000000000000000000000001", DeliveryStatus.DELIVERED, at(1767261605)),
        ("wamid.OUT0000000000000000000000000001", DeliveryStatus.SENT, at(1767261601)),
        ("wamid.OUT0000000000000000000000000001", DeliveryStatus.READ, at(1767261700)),
        ("wamid.OUT0000000000000000000000000002", DeliveryStatus.FAILED, at(1767348000)),
    ]
    failed = batch.statuses[-1]
    assert failed.error_code == "131047"
    assert failed.error_detail is not None
    assert failed.error_detail.startswith("Re-engagement message: ")
    assert "more than 24 hours" in failed.error_detail
    assert all(s.error_code is None for s in batch.statuses[:3])


def test_a_voice_note_is_not_a_message_and_says_why() -> None:
    batch = parse(body("audio.json"))
    assert batch.messages == []
    assert batch.statuses == []
    [reason] = batch.ignored
    assert "'audio'" in reason
    assert "wamid.HBgLMzQ2MDAwMDAwMDIVAgASGBQzRUIwMDAwMDAwMDAwMDAwMDAwNQA=" in reason


def test_a_guest_with_a_username_and_no_phone_number_is_known_by_user_id() -> None:
    [msg] = parse(body("username_only.json")).messages
    assert msg.sender == "wa-user:ES.200000000000000007"
    assert msg.sender_name == "Luís"
    assert msg.text == "¿Tenéis mesa esta noche?"


def test_every_entry_and_change_of_a_batched_body_is_read() -> None:
    batch = parse(body("batched.json"))
    assert [(m.provider_message_id, m.recipient, m.sender, m.text) for m in batch.messages] == [
        ("wamid.BATCH00000000000000000000000001", PNID, "+34600000001", "Somos 5 al final 🎉"),
        (
            "wamid.BATCH00000000000000000000000003",
            "109876543210002",
            "+447700900003",
            "Cancelar reserva",
        ),
    ]
    assert batch.messages[0].sender_name == "María Peña"  # matched by wa_id among two contacts
    template_tap = batch.messages[1]
    assert template_tap.choice == Choice("cancel:4822", "Cancelar reserva")
    assert template_tap.reply_to == "wamid.TEMPLATE000000000000000000000001"
    assert [(s.provider_message_id, s.status) for s in batch.statuses] == [
        ("wamid.OUT0000000000000000000000000003", DeliveryStatus.DELIVERED)
    ]
    ignored = "\n".join(batch.ignored)
    assert len(batch.ignored) == 4
    assert "wamid.BATCH00000000000000000000000002" in ignored
    assert "'reaction'" in ignored
    assert "wamid.BATCH00000000000000000000000004" in ignored
    assert "'sticker'" in ignored
    assert "'deleted'" in ignored
    assert "'message_template_status_update'" in ignored


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe{}",
        b"not json",
        b'{"object": "whatsapp_business_account", "entry": [',
        b"[]",
        b'"whatsapp_business_account"',
        b"null",
        b'{"entry": []}',
        b'{"object": "instagram", "entry": []}',
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b"[" * 100_000,
        b'{"object": "whatsapp_business_account", "entry": [' + b"9" * 5000 + b"]}",
    ],
)
def test_bodies_that_are_not_whatsapp_webhooks_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse(raw)


def envelope(*values: Any, field: str = "messages") -> bytes:
    changes = [{"field": field, "value": v} for v in values]
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": changes}]}
    return json.dumps(doc).encode()


META = {"display_phone_number": "34910000001", "phone_number_id": PNID}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"from": "34600000009", "timestamp": "1767261600", "type": "text"}, "without id"),
        ({"id": "w1", "timestamp": "1767261600", "type": "text",
          "text": {"body": "x"}}, "no sender"),
        ({"id": "w2", "from": "34600000009", "timestamp": "soon", "type": "text",
          "text": {"body": "x"}}, "timestamp"),
        ({"id": "w2b", "from": "34600000009", "timestamp": "²", "type": "text",
          "text": {"body": "x"}}, "timestamp"),
        ({"id": "w2c", "from": "34600000009", "timestamp": "9" * 5000, "type": "text",
          "text": {"body": "x"}}, "timestamp"),
        ({"id": "w2d", "from": "34600000009", "timestamp": 10**400, "type": "text",
          "text": {"body": "x"}}, "timestamp"),
        ({"id": "w3", "from": "34600000009", "timestamp": "1767261600", "type": "text"}, "body"),
        ({"id": "w4", "from": "34600000009", "timestamp": "1767261600", "type": "interactive",
          "interactive": {"type": "nfm_reply", "nfm_reply": {}}}, "nfm_reply"),
        ({"id": "w5", "from": "34600000009", "timestamp": "1767261600", "type": "unsupported",
          "errors": [{"code": 131051}]}, "'unsupported'"),
        ({"id": "w6", "from": "34600000009", "group_id": "g1", "timestamp": "1767261600",
          "type": "text", "text": {"body": "x"}}, "group"),
    ],
)  # fmt: skip
def test_messages_we_cannot_use_are_ignored_with_a_reason(
    message: dict[str, Any], reason: str
) -> None:
    batch = parse(envelope({"metadata": META, "messages": [message]}))
    assert batch.messages == []
    [got] = batch.ignored
    assert reason in got


def test_a_message_keeps_its_audit_copy_whatever_numbers_it_carries() -> None:
    """A number past 64 bits in a field we do not read: the message is taken, and its
    stored copy is the whole message, that number included."""
    msg = {"id": "w9", "from": "34600000009", "timestamp": "1767261600", "type": "text",
           "text": {"body": "hola"}, "context": {"forwarded_count": 10**30}}  # fmt: skip
    [got] = parse(envelope({"metadata": META, "messages": [msg]})).messages
    assert got.text == "hola"
    assert json.loads(got.raw) == msg


def test_a_message_without_a_phone_number_id_cannot_be_routed() -> None:
    msg = {"id": "w7", "from": "34600000009", "timestamp": "1767261600", "type": "text",
           "text": {"body": "hola"}}  # fmt: skip
    batch = parse(envelope({"messages": [msg]}))
    assert batch.messages == []
    assert "phone_number_id" in batch.ignored[0]


def test_the_only_contact_names_the_sender_even_without_a_matching_id() -> None:
    msg = {"id": "w8", "from": "34600000009", "timestamp": "1767261600", "type": "text",
           "text": {"body": "hola"}}  # fmt: skip
    contacts = [{"profile": {"name": "Pau"}, "wa_id": "34999999999"}]
    [got] = parse(envelope({"metadata": META, "contacts": contacts, "messages": [msg]})).messages
    assert got.sender == "+34600000009"
    assert got.sender_name == "Pau"


def test_unknown_status_values_and_failures_without_errors() -> None:
    statuses = [
        {"id": "o1", "status": "played", "timestamp": "1767261600", "recipient_id": "34600000001"},
        {"id": "o2", "status": "failed", "timestamp": "1767261600", "recipient_id": "34600000001"},
        {"id": "o3", "status": ["read"], "timestamp": "1767261600"},
    ]
    batch = parse(envelope({"metadata": META, "statuses": statuses}))
    assert [(s.provider_message_id, s.status, s.error_code) for s in batch.statuses] == [
        ("o2", DeliveryStatus.FAILED, None)
    ]
    assert len(batch.ignored) == 2
    assert "'played'" in batch.ignored[0]


# A little fuzzing: the parser must turn any input into a batch or MalformedPayload.

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(raw=st.binary(max_size=400))
def test_any_bytes_give_a_batch_or_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedPayload):
        parse(raw)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = _replace(node[head], tuple(rest), value)
    return copy


FIXTURE_DOCS = [
    json.loads(body(n))
    for n in ("batched.json", "statuses.json", "button_reply.json", "username_only.json")
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_part_of_a_real_body_replaced_by_anything_gives_a_batch_or_malformed(
    data: st.DataObject,
) -> None:
    doc = data.draw(st.sampled_from(FIXTURE_DOCS))
    path = data.draw(st.sampled_from(list(_paths(doc))))
    mutated = _replace(doc, path, data.draw(json_values))
    try:
        batch = parse(json.dumps(mutated).encode())
    except MalformedPayload:
        return
    for msg in batch.messages:
        assert msg.provider_message_id
        assert msg.sender
        assert msg.recipient
        assert msg.sent_at.tzinfo is not None


# --- sending: rendering, as the Graph API receives it -------------------------------


def ok(message_id: str) -> tuple[int, dict[str, Any]]:
    return 200, {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "34600000001", "wa_id": "34600000001"}],
        "messages": [{"id": message_id}],
    }


@pytest.fixture(scope="module")
def _graph_server() -> Iterator[RecordingServer]:
    # One server for the module: each one costs half a second to shut down.
    with recording_server(default=lambda _r: ok("wamid.SENT0001")) as server:
        yield server


@pytest.fixture
def graph(_graph_server: RecordingServer) -> RecordingServer:
    _graph_server.requests.clear()
    _graph_server.answers.clear()
    return _graph_server


@pytest.fixture
def sender(graph: RecordingServer) -> Iterator[WhatsAppSender]:
    s = WhatsAppSender(graph.url, "v21.0", timeout_s=5)
    yield s
    s.close()


HEAD = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "34600000001"}


def test_text_goes_to_the_phone_number_id_with_the_bearer_token(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    result = sender.send(ACCOUNT, "+34600000001", OutboundMessage("¡Hola! 👋"), CTX)
    assert result.provider_message_id == "wamid.SENT0001"
    [req] = graph.requests
    assert req.method == "POST"
    assert req.path == f"/v21.0/{PNID}/messages"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        **HEAD,
        "type": "text",
        "text": {"body": "¡Hola! 👋", "preview_url": False},
    }


def test_reply_buttons_with_titles_cut_to_twenty_characters(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    message = OutboundMessage(
        "¿Confirmas la reserva para 4 el viernes a las 21:00?",
        buttons=(Button("yes", "Sí, confirmo"), Button("change", "Cambiar hora de la reserva")),
    )
    sender.send(ACCOUNT, "+34600000001", message, CTX)
    assert graph.requests[0].json() == {
        **HEAD,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "¿Confirmas la reserva para 4 el viernes a las 21:00?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Sí, confirmo"}},
                    {"type": "reply", "reply": {"id": "change", "title": "Cambiar hora de la…"}},
                ]
            },
        },
    }


def test_list_options_with_the_default_label_for_the_language(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    message = OutboundMessage(
        "Horas libres el sábado:",
        options=(
            ListOption("slot:20:00", "20:00"),
            ListOption("slot:22:30", "22:30 en la terraza acristalada", "Mesa exterior " * 10),
        ),
    )
    sender.send(ACCOUNT, "+34600000001", message, CTX)
    sender.send(ACCOUNT, "+34600000001", message, SendContext("out-2", language="en-GB"))
    first, second = (r.json() for r in graph.requests)
    assert first == {
        **HEAD,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Horas libres el sábado:"},
            "action": {
                "button": "Ver opciones",
                "sections": [
                    {
                        "rows": [
                            {"id": "slot:20:00", "title": "20:00"},
                            {
                                "id": "slot:22:30",
                                "title": "22:30 en la terraza acr…",
                                "description": "Mesa exterior " * 5 + "M…",
                            },
                        ]
                    }
                ],
            },
        },
    }
    assert len(first["interactive"]["action"]["sections"][0]["rows"][1]["description"]) == 72
    assert second["interactive"]["action"]["button"] == "See options"


def test_a_given_list_label_is_used_and_cut(graph: RecordingServer, sender: WhatsAppSender) -> None:
    message = OutboundMessage(
        "Elige", options=(ListOption("a", "A"),), options_label="Ver todas las horas libres"
    )
    sender.send(ACCOUNT, "+34600000001", message, CTX)
    assert graph.requests[0].json()["interactive"]["action"]["button"] == "Ver todas las horas…"


def test_long_texts_are_cut_with_an_ellipsis(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    sender.send(ACCOUNT, "+34600000001", OutboundMessage("a" * 5000), CTX)
    sender.send(
        ACCOUNT, "+34600000001", OutboundMessage("b" * 2000, buttons=(Button("x", "X"),)), CTX
    )
    text, interactive = (r.json() for r in graph.requests)
    assert text["text"]["body"] == "a" * 4095 + "…"
    assert interactive["interactive"]["body"]["text"] == "b" * 1023 + "…"


def test_an_image_by_url_follows_the_text_and_the_text_id_is_returned(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    graph.queue(ok("wamid.TEXT"), ok("wamid.IMAGE"))
    message = OutboundMessage(
        "Tu reserva",
        image=Image(url="https://cdn.example.test/qr/4821.png", caption="Código de la reserva"),
    )
    result = sender.send(ACCOUNT, "+34600000001", message, CTX)
    assert result.provider_message_id == "wamid.TEXT"
    assert [r.json()["type"] for r in graph.requests] == ["text", "image"]
    assert graph.requests[1].json() == {
        **HEAD,
        "type": "image",
        "image": {
            "link": "https://cdn.example.test/qr/4821.png",
            "caption": "Código de la reserva",
        },
    }


def test_an_image_alone_is_the_only_message(graph: RecordingServer, sender: WhatsAppSender) -> None:
    message = OutboundMessage("", image=Image(url="https://cdn.example.test/menu.jpg"))
    sender.send(ACCOUNT, "+34600000001", message, CTX)
    [req] = graph.requests
    assert req.json() == {
        **HEAD,
        "type": "image",
        "image": {"link": "https://cdn.example.test/menu.jpg"},
    }


def test_images_without_url_and_attachments_are_not_sent(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    message = OutboundMessage(
        "Confirmada",
        image=Image(data=b"\x89PNG..."),
        attachments=(Attachment("reserva.ics", "text/calendar", b"BEGIN:VCALENDAR"),),
    )
    sender.send(ACCOUNT, "+34600000001", message, CTX)
    assert [r.json()["type"] for r in graph.requests] == ["text"]


def test_a_failed_image_after_the_text_does_not_fail_the_send(
    graph: RecordingServer, sender: WhatsAppSender, caplog: pytest.LogCaptureFixture
) -> None:
    graph.queue(ok("wamid.TEXT"), (400, {"error": {"message": "bad link", "code": 131053}}))
    message = OutboundMessage("Hola", image=Image(url="https://cdn.example.test/x.png"))
    with caplog.at_level(logging.WARNING):
        result = sender.send(ACCOUNT, "+34600000001", message, CTX)
    assert result.provider_message_id == "wamid.TEXT"
    assert "131053" in caplog.text
    assert "wamid.TEXT" in caplog.text
    assert TOKEN not in caplog.text


def test_a_guest_known_by_user_id_is_addressed_in_the_recipient_field(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    sender.send(ACCOUNT, "wa-user:ES.200000000000000007", OutboundMessage("Hola"), CTX)
    sent = graph.requests[0].json()
    assert sent["recipient"] == "ES.200000000000000007"
    assert "to" not in sent


@pytest.mark.parametrize(
    "to", ["", "wa-user:", "guest@example.com", "+34 600 abc", "+1234567890123456"]
)
def test_an_address_whatsapp_cannot_reach_fails_without_a_call(
    graph: RecordingServer, sender: WhatsAppSender, to: str
) -> None:
    with pytest.raises(SendFailed) as caught:
        sender.send(ACCOUNT, to, OutboundMessage("Hola"), CTX)
    assert caught.value.code == "BAD_RECIPIENT"
    assert caught.value.retryable is False
    assert graph.requests == []


def test_outside_the_window_the_restaurant_template_carries_the_text(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    account = ChannelAccount(
        1, "whatsapp", PNID, {"access_token": TOKEN, "template_name": "seguimiento_reserva"}
    )
    message = OutboundMessage(
        "Hola María:\n\nTu mesa\tpara 4     está lista.\r\n¿Vienes?",
        buttons=(Button("yes", "Sí"), Button("no", "No")),
        image=Image(url="https://cdn.example.test/x.png"),
    )
    result = sender.send(account, "+34600000001", message, SendContext("o", window_open=False))
    assert result.provider_message_id == "wamid.SENT0001"
    [req] = graph.requests  # no buttons, no image: only the template may go out
    assert req.json() == {
        **HEAD,
        "type": "template",
        "template": {
            "name": "seguimiento_reserva",
            "language": {"code": "es"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {
                            "type": "text",
                            "text": "Hola María: · Tu mesa para 4 está lista. · ¿Vienes?"
                            " · 1. Sí · 2. No",
                        }
                    ],
                }
            ],
        },
    }


def test_the_template_language_setting_wins_and_long_texts_are_cut(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    account = ChannelAccount(
        1,
        "whatsapp",
        PNID,
        {"access_token": TOKEN, "template_name": "follow_up", "template_language": "en_US"},
    )
    sender.send(
        account, "+34600000001", OutboundMessage("x" * 3000), SendContext("o", window_open=False)
    )
    template = graph.requests[0].json()["template"]
    assert template["language"] == {"code": "en_US"}
    assert template["components"][0]["parameters"][0]["text"] == "x" * 1023 + "…"


def test_outside_the_window_without_a_template_nothing_is_sent(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    with pytest.raises(SendFailed) as caught:
        sender.send(
            ACCOUNT, "+34600000001", OutboundMessage("Hola"), SendContext("o", window_open=False)
        )
    assert caught.value.code == "WINDOW_CLOSED"
    assert caught.value.retryable is False
    assert graph.requests == []


def test_an_account_without_a_token_fails_without_a_call(
    graph: RecordingServer, sender: WhatsAppSender
) -> None:
    account = ChannelAccount(1, "whatsapp", PNID, {})
    with pytest.raises(SendFailed) as caught:
        sender.send(account, "+34600000001", OutboundMessage("Hola"), CTX)
    assert caught.value.code == "NO_TOKEN"
    assert caught.value.retryable is False
    assert graph.requests == []


def test_an_empty_message_is_refused(graph: RecordingServer, sender: WhatsAppSender) -> None:
    with pytest.raises(SendFailed) as caught:
        sender.send(ACCOUNT, "+34600000001", OutboundMessage(""), CTX)
    assert caught.value.retryable is False
    assert graph.requests == []


def test_the_template_parameter_never_holds_newlines_tabs_or_space_runs() -> None:
    @given(text=st.text(max_size=200))
    def check(text: str) -> None:
        param = whatsapp.template_parameter(OutboundMessage(text))
        assert param
        assert "\n" not in param
        assert "\r" not in param
        assert "\t" not in param
        assert "    " not in param
        assert len(param) <= 1024

    check()
