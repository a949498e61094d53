"""The Twilio SMS adapter: signatures (against Twilio's own RequestValidator),
webhook parsing on byte-exact fixtures, and the sender against a loopback
stand-in for the REST API."""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from saveit.channels.sms.inbound import (
    compute_signature,
    parse_form,
    parse_inbound,
    parse_status,
    public_url,
    twiml_empty,
    verify_signature,
)
from saveit.channels.sms.sender import MAX_BODY_CHARS, TwilioSender, sms_body
from saveit.domain.channel_ports import (
    ChannelAccount,
    MalformedPayload,
    SendContext,
    Sender,
    SendFailed,
    SignatureInvalid,
)
from saveit.domain.messages import (
    Button,
    DeliveryStatus,
    Image,
    ListOption,
    OutboundMessage,
)
from tests.recording_http import Recorded, recording_server

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "channels" / "twilio"
TOKEN = "9f2c1e7b3a5d4c6e8f0a1b2c3d4e5f6a"  # invented auth token
ACCOUNT_SID = "AC5e0c2b7d9f1a3c5e7b9d1f3a5c7e9b1d"
PUBLIC = "https://book.example.com/webhooks/twilio/sms?restaurant=7"
NOW = datetime(2026, 6, 1, 19, 5, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class MultiDict(dict[str, list[str]]):
    """What RequestValidator reads repeated form names from (Flask's getall)."""

    def __init__(self, params: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in params:
            self.setdefault(name, []).append(value)

    def getall(self, name: str) -> list[str]:
        return self[name]


def oracle(url: str, params: list[tuple[str, str]], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, MultiDict(params)))


def oracle_accepts(url: str, params: list[tuple[str, str]], signature: str) -> bool:
    return bool(RequestValidator(TOKEN).validate(url, MultiDict(params), signature))


def ours_accepts(url: str, params: list[tuple[str, str]], signature: str | None) -> bool:
    try:
        verify_signature(url, params, signature, TOKEN)
    except SignatureInvalid:
        return False
    return True


# --- form -----------------------------------------------------------------------------


def test_form_keeps_blank_values_and_decodes_utf8() -> None:
    params = parse_form(fixture("inbound_sms.form"))
    fields = dict(params)
    assert ("ToCity", "") in params
    assert ("FromZip", "") in params
    assert fields["Body"] == "¿Tenéis mesa mañana? 😀"
    assert fields["From"] == "+34600111222"
    assert len(params) == fixture("inbound_sms.form").count(b"&") + 1


def test_form_keeps_repeated_names_in_order() -> None:
    assert parse_form(b"a=2&b=&a=1&c") == [("a", "2"), ("b", ""), ("a", "1"), ("c", "")]
    assert parse_form(b"") == []


@pytest.mark.parametrize("raw", [b"Body=%FF%FE", b"Body=\xff", b"Body=%C3", b"a=1&" * 1001])
def test_form_refuses_what_is_not_utf8_form(raw: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse_form(raw)


# --- signatures -----------------------------------------------------------------------


def test_twilios_published_example_vector() -> None:
    # The example from Twilio's security documentation (token "12345").
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    "name",
    [
        "inbound_sms.form",
        "inbound_mms_no_body.form",
        "status_delivered.form",
        "status_undelivered_30003.form",
    ],
)
def test_genuine_requests_pass_as_twilio_validator_says(name: str) -> None:
    params = parse_form(fixture(name))
    signature = oracle(PUBLIC, params)
    assert compute_signature(PUBLIC, params, TOKEN) == signature
    assert oracle_accepts(PUBLIC, params, signature)
    verify_signature(PUBLIC, params, signature, TOKEN)


def test_tampered_body_is_refused() -> None:
    params = parse_form(fixture("inbound_sms.form"))
    signature = oracle(PUBLIC, params)
    tampered = [(k, "Mesa para 20" if k == "Body" else v) for k, v in params]
    assert not oracle_accepts(PUBLIC, tampered, signature)
    with pytest.raises(SignatureInvalid):
        verify_signature(PUBLIC, tampered, signature, TOKEN)


def test_an_added_parameter_is_refused() -> None:
    params = parse_form(fixture("inbound_sms.form"))
    signature = oracle(PUBLIC, params)
    assert not ours_accepts(PUBLIC, [*params, ("Extra", "1")], signature)


def test_dropping_blank_parameters_breaks_the_signature() -> None:
    raw = fixture("inbound_sms.form")
    signature = oracle(PUBLIC, parse_form(raw))
    # What a parser that drops blanks (parse_qsl's default) would hand over.
    dropped = parse_qsl(raw.decode())
    assert ("ToCity", "") not in dropped
    assert not oracle_accepts(PUBLIC, dropped, signature)
    assert not ours_accepts(PUBLIC, dropped, signature)
    assert ours_accepts(PUBLIC, parse_form(raw), signature)


def test_wrong_url_or_token_is_refused() -> None:
    params = parse_form(fixture("status_delivered.form"))
    signature = oracle(PUBLIC, params)
    for url in (
        "https://book.example.com/webhooks/twilio/sms?restaurant=8",
        "https://book.example.com/webhooks/twilio/sms",
        "https://evil.example.com/webhooks/twilio/sms?restaurant=7",
    ):
        assert not oracle_accepts(url, params, signature)
        assert not ours_accepts(url, params, signature)
    with pytest.raises(SignatureInvalid):
        verify_signature(PUBLIC, params, signature, "another-token")


def test_proxy_http_is_refused_until_public_url_restores_https() -> None:
    params = parse_form(fixture("inbound_sms.form"))
    signature = oracle(PUBLIC, params)
    seen_by_app = "http://10.0.0.5:8000/webhooks/twilio/sms?restaurant=7"
    plain_http = "http://book.example.com/webhooks/twilio/sms?restaurant=7"
    assert not oracle_accepts(plain_http, params, signature)
    assert not ours_accepts(plain_http, params, signature)
    assert not ours_accepts(seen_by_app, params, signature)
    fixed = public_url(seen_by_app, "https://book.example.com")
    assert fixed == PUBLIC
    assert ours_accepts(fixed, params, signature)


@pytest.mark.parametrize(
    ("signed", "checked"),
    [
        ("https://book.example.com:443/sms?x=1", "https://book.example.com/sms?x=1"),
        ("https://book.example.com/sms?x=1", "https://book.example.com:443/sms?x=1"),
        ("http://book.example.com:80/sms", "http://book.example.com/sms"),
        ("https://book.example.com:8443/sms", "https://book.example.com:8443/sms"),
        ("https://book.example.com/sms", "https://book.example.com:8443/sms"),
        ("https://book.example.com:8443/sms", "https://book.example.com/sms"),
        ("https://book.example.com:80/sms", "https://book.example.com/sms"),
        ("http://book.example.com:443/sms", "http://book.example.com/sms"),
    ],
)
def test_port_quirk_matches_request_validator(signed: str, checked: str) -> None:
    params = parse_form(fixture("status_delivered.form"))
    signature = oracle(signed, params)
    assert ours_accepts(checked, params, signature) == oracle_accepts(checked, params, signature)


def test_default_port_either_way_is_accepted() -> None:
    params = parse_form(fixture("status_delivered.form"))
    with_port = "https://book.example.com:443/webhooks/twilio/status"
    without = "https://book.example.com/webhooks/twilio/status"
    assert ours_accepts(without, params, oracle(with_port, params))
    assert ours_accepts(with_port, params, oracle(without, params))


def test_repeated_names_sign_as_twilio_does() -> None:
    params = [("b", "2"), ("a", "y"), ("a", "x"), ("a", "x"), ("c", "")]
    signature = oracle(PUBLIC, params)
    assert compute_signature(PUBLIC, params, TOKEN) == signature
    # Values of one name sort, so the order they came in does not matter.
    assert ours_accepts(PUBLIC, [("a", "x"), ("c", ""), ("a", "y"), ("b", "2")], signature)
    # Each value counts: losing one breaks it.
    assert not ours_accepts(PUBLIC, [("b", "2"), ("a", "y"), ("c", "")], signature)


@pytest.mark.parametrize(
    "header", [None, "", "   ", "ñ-not-base64", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="]
)
def test_missing_or_foreign_signature_is_refused(header: str | None) -> None:
    params = parse_form(fixture("inbound_sms.form"))
    with pytest.raises(SignatureInvalid):
        verify_signature(PUBLIC, params, header, TOKEN)


def test_no_configured_token_refuses_everything() -> None:
    params = [("a", "1")]
    with pytest.raises(SignatureInvalid):
        verify_signature(PUBLIC, params, oracle(PUBLIC, params, token=""), "")


names = st.text(st.characters(codec="utf-8"), max_size=6)
values = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    params=st.lists(st.tuples(names, values), max_size=8),
    path=st.text(st.sampled_from("abc/?=&%20ñ"), max_size=12),
)
def test_any_form_signs_like_request_validator(params: list[tuple[str, str]], path: str) -> None:
    url = "https://book.example.com/" + path
    assert compute_signature(url, params, TOKEN) == oracle(url, params)


# --- public URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_url", "base", "expected"),
    [
        (
            "http://127.0.0.1:8000/webhooks/twilio/sms?restaurant=7&x=a%2Fb",
            "https://book.example.com",
            "https://book.example.com/webhooks/twilio/sms?restaurant=7&x=a%2Fb",
        ),
        (
            "http://127.0.0.1:8000/webhooks/twilio/sms",
            "https://book.example.com/",
            "https://book.example.com/webhooks/twilio/sms",
        ),
        (
            "http://internal/webhooks/twilio/sms?r=1",
            "https://example.com/saveit",
            "https://example.com/saveit/webhooks/twilio/sms?r=1",
        ),
        (  # the app already knows its root path: not doubled
            "http://internal/saveit/webhooks/twilio/sms?r=1",
            "https://example.com/saveit/",
            "https://example.com/saveit/webhooks/twilio/sms?r=1",
        ),
        (
            "http://internal/saveitnot/sms",
            "https://example.com/saveit",
            "https://example.com/saveit/saveitnot/sms",
        ),
        (
            "http://internal:8000/sms",
            "https://book.example.com:8443",
            "https://book.example.com:8443/sms",
        ),
        ("http://internal:8000/sms?a=1", None, "http://internal:8000/sms?a=1"),
        ("http://internal:8000/sms?a=1", "", "http://internal:8000/sms?a=1"),
    ],
)
def test_public_url(request_url: str, base: str | None, expected: str) -> None:
    assert public_url(request_url, base) == expected


def test_public_url_prefix_case_signs() -> None:
    signed = "https://example.com/saveit/webhooks/twilio/sms"
    params = parse_form(fixture("inbound_sms.form"))
    seen = "http://127.0.0.1:8000/webhooks/twilio/sms"
    assert ours_accepts(
        public_url(seen, "https://example.com/saveit"), params, oracle(signed, params)
    )


def test_public_url_refuses_a_base_that_is_no_url() -> None:
    with pytest.raises(ValueError, match="public_base_url"):
        public_url("http://internal/sms", "book.example.com")


# --- inbound ----------------------------------------------------------------------------


def test_inbound_sms_becomes_one_message() -> None:
    raw = fixture("inbound_sms.form")
    batch = parse_inbound(parse_form(raw), NOW, raw=raw)
    assert batch.statuses == []
    assert batch.ignored == []
    [message] = batch.messages
    assert message.channel == "sms"
    assert message.provider_message_id == "SM0f3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e"
    assert message.sender == "+34600111222"
    assert message.recipient == "+34910000000"
    assert message.text == "¿Tenéis mesa mañana? 😀"
    assert message.sent_at == NOW
    assert message.raw == raw.decode()


def test_inbound_without_raw_keeps_an_equivalent_form() -> None:
    params = parse_form(fixture("inbound_sms.form"))
    [message] = parse_inbound(params, NOW).messages
    assert parse_form(message.raw.encode()) == params


def test_inbound_time_is_utc_now_by_default() -> None:
    params = parse_form(fixture("inbound_sms.form"))
    madrid = timezone(timedelta(hours=2))
    [message] = parse_inbound(params, datetime(2026, 6, 1, 21, 5, tzinfo=madrid)).messages
    assert message.sent_at == NOW
    assert message.sent_at.tzinfo is UTC
    before = datetime.now(UTC)
    [message] = parse_inbound(params).messages
    assert before <= message.sent_at <= datetime.now(UTC)


def test_inbound_falls_back_to_sms_sid() -> None:
    params = [(k, v) for k, v in parse_form(fixture("inbound_sms.form")) if k != "MessageSid"]
    [message] = parse_inbound(params, NOW).messages
    assert message.provider_message_id == "SM0f3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e"


@pytest.mark.parametrize("missing", [("MessageSid", "SmsSid", "SmsMessageSid"), ("From",), ("To",)])
def test_inbound_without_required_fields_is_malformed(missing: tuple[str, ...]) -> None:
    params = [(k, v) for k, v in parse_form(fixture("inbound_sms.form")) if k not in missing]
    with pytest.raises(MalformedPayload):
        parse_inbound(params, NOW)


def test_mms_without_text_is_ignored_with_a_reason() -> None:
    batch = parse_inbound(parse_form(fixture("inbound_mms_no_body.form")), NOW)
    assert batch.messages == []
    [reason] = batch.ignored
    assert "MM7a1c3e5b7d9f2a4c6e8b0d2f4a6c8e1b" in reason
    assert "image/jpeg" in reason
    assert "not supported" in reason
    assert "+34600111222" not in reason  # reasons are logged: no guest numbers


def test_mms_with_text_keeps_the_text_and_notes_the_media() -> None:
    params = [
        (k, "¿Esta mesa?" if k == "Body" else v)
        for k, v in parse_form(fixture("inbound_mms_no_body.form"))
    ]
    batch = parse_inbound(params, NOW)
    [message] = batch.messages
    assert message.text == "¿Esta mesa?"
    [reason] = batch.ignored
    assert "1 media" in reason


@pytest.mark.parametrize("sender", ["Movistar", "whatsapp:+34600111222", "22395"])
def test_senders_that_are_no_phone_are_ignored(sender: str) -> None:
    params = [(k, sender if k == "From" else v) for k, v in parse_form(fixture("inbound_sms.form"))]
    batch = parse_inbound(params, NOW)
    assert batch.messages == []
    [reason] = batch.ignored
    assert "From is not a phone number" in reason


def test_empty_sms_is_ignored() -> None:
    params = [(k, "" if k == "Body" else v) for k, v in parse_form(fixture("inbound_sms.form"))]
    batch = parse_inbound(params, NOW)
    assert batch.messages == []
    assert batch.ignored


def test_garbage_media_count_is_malformed() -> None:
    params = [
        (k, "many" if k == "NumMedia" else v) for k, v in parse_form(fixture("inbound_sms.form"))
    ]
    with pytest.raises(MalformedPayload):
        parse_inbound(params, NOW)


# --- statuses ---------------------------------------------------------------------------


def test_delivered_status() -> None:
    batch = parse_status(parse_form(fixture("status_delivered.form")), NOW)
    assert batch.messages == []
    [update] = batch.statuses
    assert update.channel == "sms"
    assert update.provider_message_id == "SM1e2d3c4b5a69788796a5b4c3d2e1f0a9"
    assert update.status is DeliveryStatus.DELIVERED
    assert update.at == NOW
    assert update.error_code is None


def test_undelivered_status_is_failed_with_the_error_code() -> None:
    [update] = parse_status(parse_form(fixture("status_undelivered_30003.form")), NOW).statuses
    assert update.status is DeliveryStatus.FAILED
    assert update.error_code == "30003"
    assert update.error_detail is not None
    assert "30003" in update.error_detail


def status_params(status: str, **extra: str) -> list[tuple[str, str]]:
    return [
        ("SmsSid", "SM1e2d3c4b5a69788796a5b4c3d2e1f0a9"),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("MessageSid", "SM1e2d3c4b5a69788796a5b4c3d2e1f0a9"),
        *extra.items(),
    ]


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("undelivered", DeliveryStatus.FAILED),
        ("failed", DeliveryStatus.FAILED),
        ("canceled", DeliveryStatus.FAILED),
    ],
)
def test_status_mapping(twilio: str, ours: DeliveryStatus) -> None:
    [update] = parse_status(status_params(twilio), NOW).statuses
    assert update.status is ours


@pytest.mark.parametrize(
    "status", ["queued", "accepted", "scheduled", "sending", "received", "brand_new"]
)
def test_statuses_with_no_step_forward_are_ignored_with_a_reason(status: str) -> None:
    batch = parse_status(status_params(status), NOW)
    assert batch.statuses == []
    [reason] = batch.ignored
    assert status in reason


def test_failed_status_keeps_twilios_error_message() -> None:
    params = status_params(
        "failed", ErrorCode="21610", ErrorMessage="Attempt to send to unsubscribed recipient"
    )
    [update] = parse_status(params, NOW).statuses
    assert update.error_code == "21610"
    assert update.error_detail == "Attempt to send to unsubscribed recipient"


def test_status_only_in_sms_status_is_read() -> None:
    params = [("SmsSid", "SM1"), ("SmsStatus", "delivered")]
    [update] = parse_status(params, NOW).statuses
    assert (update.provider_message_id, update.status) == ("SM1", DeliveryStatus.DELIVERED)


@pytest.mark.parametrize("params", [[("MessageStatus", "delivered")], [("MessageSid", "SM1")], []])
def test_status_without_sid_or_status_is_malformed(params: list[tuple[str, str]]) -> None:
    with pytest.raises(MalformedPayload):
        parse_status(params, NOW)


def test_twiml_empty() -> None:
    assert twiml_empty() == '<?xml version="1.0" encoding="UTF-8"?><Response/>'


# --- sending ----------------------------------------------------------------------------

ACCOUNT = ChannelAccount(restaurant_id=7, channel="sms", address="+34910000000")
CONTEXT = SendContext(
    message_id="m-1", status_callback_url="https://book.example.com/webhooks/twilio/status"
)
CONFIRM = OutboundMessage(
    text="Mesa para 2 el viernes a las 21:00.",
    buttons=(Button("confirm", "Confirmar"), Button("change", "Cambiar hora")),
)


def created() -> tuple[int, object]:
    return 201, json.loads(fixture("send_created.json"))


def sender_for(url: str, timeout_s: float = 5.0) -> TwilioSender:
    return TwilioSender(url, ACCOUNT_SID, TOKEN, timeout_s=timeout_s)


def test_sender_posts_the_messages_api_form_with_basic_auth() -> None:
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue(created())
        result = sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
    assert result.provider_message_id == "SM1e2d3c4b5a69788796a5b4c3d2e1f0a9"
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    assert request.form() == {
        "To": "+34600111222",
        "From": "+34910000000",
        "Body": "Mesa para 2 el viernes a las 21:00.\n1. Confirmar\n2. Cambiar hora",
        "StatusCallback": "https://book.example.com/webhooks/twilio/status",
    }
    assert TOKEN not in request.path


def test_sender_uses_the_messaging_service_when_set() -> None:
    account = ChannelAccount(
        restaurant_id=7,
        channel="sms",
        address="+34910000000",
        settings={"messaging_service_sid": "MG9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"},
    )
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue(created())
        sender.send(account, "+34600111222", OutboundMessage(text="Hola"), SendContext("m-2"))
    assert server.requests[0].form() == {
        "To": "+34600111222",
        "MessagingServiceSid": "MG9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a",
        "Body": "Hola",
    }


def test_list_options_and_image_link_go_as_lines() -> None:
    message = OutboundMessage(
        text="¿A qué hora?",
        options=(ListOption("t1", "20:30"), ListOption("t2", "21:00", "terraza")),
        image=Image(url="https://book.example.com/qr/abc.png", data=b"\x89PNG"),
    )
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue(created())
        sender.send(ACCOUNT, "+34600111222", message, SendContext("m-3"))
    form = server.requests[0].form()
    assert form["Body"] == "¿A qué hora?\n1. 20:30\n2. 21:00\nhttps://book.example.com/qr/abc.png"
    assert "MediaUrl" not in form
    assert "StatusCallback" not in form


def test_long_text_is_cut_to_twilios_limit_keeping_the_link() -> None:
    long_text = "Reserva confirmada. " * 120  # 2400 characters
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue(created())
        message = OutboundMessage(
            text=long_text, image=Image(url="https://book.example.com/qr/abc.png")
        )
        sender.send(ACCOUNT, "+34600111222", message, SendContext("m-4"))
    body = server.requests[0].form()["Body"]
    assert len(body) <= MAX_BODY_CHARS
    assert body.startswith("Reserva confirmada. Reserva")
    first, link = body.rsplit("\n", 1)
    assert first.endswith("…")
    assert not first.endswith(" …")
    assert link == "https://book.example.com/qr/abc.png"


def test_cut_counts_emoji_as_twilio_does() -> None:
    body = sms_body(OutboundMessage(text="😀" * 1000))
    assert body.endswith("…")
    assert len(body.encode("utf-16-le")) // 2 <= MAX_BODY_CHARS
    assert sms_body(OutboundMessage(text="x" * MAX_BODY_CHARS)) == "x" * MAX_BODY_CHARS


def test_message_with_nothing_for_sms_is_refused_without_a_call() -> None:
    with (
        recording_server() as server,
        sender_for(server.url) as sender,
        pytest.raises(SendFailed) as caught,
    ):
        sender.send(ACCOUNT, "+34600111222", OutboundMessage(text=""), SendContext("m-5"))
    assert caught.value.retryable is False
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
        (503, {}),
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}),
    ],
)
def test_server_trouble_is_retryable(status: int, body: object) -> None:
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue((status, body))
        with pytest.raises(SendFailed) as caught:
            sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
    assert caught.value.retryable is True
    assert str(status) in str(caught.value)


def test_invalid_number_is_final_with_twilios_code() -> None:
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue((400, json.loads(fixture("send_error_21211.json"))))
        with pytest.raises(SendFailed) as caught:
            sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
    failure = caught.value
    assert failure.retryable is False
    assert failure.code == "21211"
    assert "Invalid 'To' Phone Number" in failure.detail


def test_refused_credentials_are_final() -> None:
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue((401, {"code": 20003, "message": "Authenticate", "status": 401}))
        with pytest.raises(SendFailed) as caught:
            sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
    assert (caught.value.retryable, caught.value.code) == (False, "20003")
    assert TOKEN not in str(caught.value)


def test_timeout_is_retryable() -> None:
    def slow(_request: Recorded) -> tuple[int, object]:
        time.sleep(1.0)
        return created()

    with recording_server(slow) as server, sender_for(server.url, timeout_s=0.2) as sender:
        started = time.monotonic()
        with pytest.raises(SendFailed) as caught:
            sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
        assert time.monotonic() - started < 0.9
    assert caught.value.retryable is True
    assert TOKEN not in str(caught.value)


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with sender_for(f"http://127.0.0.1:{port}") as sender, pytest.raises(SendFailed) as caught:
        sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
    assert caught.value.retryable is True
    assert caught.value.__cause__ is None


def test_token_never_shows_even_if_echoed_back() -> None:
    basic = base64.b64encode(f"{ACCOUNT_SID}:{TOKEN}".encode()).decode()

    def echo(request: Recorded) -> tuple[int, object]:
        return 400, {"code": 21604, "message": f"echo {request.headers['authorization']} {TOKEN}"}

    with recording_server(echo) as server, sender_for(server.url) as sender:
        with pytest.raises(SendFailed) as caught:
            sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
        shown = f"{caught.value} {caught.value!r} {caught.value.detail} {sender!r}"
    assert TOKEN not in shown
    assert basic not in shown


def test_accepted_without_sid_is_not_retried() -> None:
    with recording_server() as server, sender_for(server.url) as sender:
        server.queue((201, {"status": "queued"}))
        with pytest.raises(SendFailed) as caught:
            sender.send(ACCOUNT, "+34600111222", CONFIRM, CONTEXT)
    assert caught.value.retryable is False


def test_sender_is_the_sms_sender() -> None:
    sender: Sender = TwilioSender("https://api.twilio.com", ACCOUNT_SID, TOKEN)
    assert sender.channel == "sms"
    assert isinstance(sender, TwilioSender)
    sender.close()
