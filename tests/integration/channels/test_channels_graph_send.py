"""Both Meta senders against a Graph API stand-in on loopback: what the delivery
worker learns when a send fails (retry later, or fail visibly now), and that the
access token never shows up in what it learns."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from saveit.channels.instagram.sender import InstagramSender
from saveit.channels.whatsapp.sender import WhatsAppSender
from saveit.domain.channel_ports import ChannelAccount, SendContext, SendFailed
from saveit.domain.messages import OutboundMessage
from tests.recording_http import Recorded, RecordingServer, recording_server

TOKEN = "EAAG-secret-access-token-7f3a9c"
CTX = SendContext(message_id="out-1")
Send = Callable[..., Any]

CASES: dict[str, tuple[type[WhatsAppSender] | type[InstagramSender], ChannelAccount, str]] = {
    "whatsapp": (
        WhatsAppSender,
        ChannelAccount(1, "whatsapp", "109876543210001", {"access_token": TOKEN}),
        "+34600000001",
    ),
    "instagram": (
        InstagramSender,
        ChannelAccount(1, "instagram", "17841400000000001", {"access_token": TOKEN}),
        "6500000000000001",
    ),
}


@pytest.fixture(scope="module")
def _graph_server() -> Iterator[RecordingServer]:
    with recording_server() as server:
        yield server


@pytest.fixture
def graph(_graph_server: RecordingServer) -> RecordingServer:
    _graph_server.requests.clear()
    _graph_server.answers.clear()
    return _graph_server


@pytest.fixture(params=sorted(CASES))
def send(request: pytest.FixtureRequest, graph: RecordingServer) -> Iterator[Send]:
    cls, account, to = CASES[request.param]
    sender = cls(graph.url, "v21.0", timeout_s=5)

    def _send(url: str | None = None, timeout_s: float | None = None) -> Any:
        target = sender
        if url is not None or timeout_s is not None:
            target = cls(url or graph.url, "v21.0", timeout_s=timeout_s or 5)
        try:
            return target.send(account, to, OutboundMessage("Hola"), CTX)
        finally:
            if target is not sender:
                target.close()

    yield _send
    sender.close()


def failure(send: Send, **kwargs: Any) -> SendFailed:
    with pytest.raises(SendFailed) as caught:
        send(**kwargs)
    exc = caught.value
    for text in (str(exc), repr(exc), exc.detail, str(exc.code), repr(exc.__cause__)):
        assert TOKEN not in text
    return exc


def graph_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code,
                      "fbtrace_id": "AbCdEf123", **extra}}  # fmt: skip


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(graph: RecordingServer, send: Send, status: int) -> None:
    graph.queue((status, graph_error(2, "Service temporarily unavailable")))
    exc = failure(send)
    assert exc.retryable is True


def test_a_server_error_without_a_graph_body_is_retried(graph: RecordingServer, send: Send) -> None:
    graph.queue((502, "Bad Gateway"))
    exc = failure(send)
    assert exc.retryable is True
    assert exc.code == "HTTP_502"


def test_too_many_requests_is_retried(graph: RecordingServer, send: Send) -> None:
    graph.queue((429, graph_error(80007, "Rate limit hit")))
    assert failure(send).retryable is True


@pytest.mark.parametrize("code", [130429, 131056, 4])
def test_graph_rate_limits_answered_as_400_are_retried(
    graph: RecordingServer, send: Send, code: int
) -> None:
    graph.queue((400, graph_error(code, "(#130429) Rate limit hit")))
    exc = failure(send)
    assert exc.retryable is True
    assert exc.code == str(code)


def test_a_closed_window_refusal_fails_at_once_with_its_graph_code(
    graph: RecordingServer, send: Send
) -> None:
    graph.queue(
        (
            400,
            graph_error(
                131047,
                "Re-engagement message",
                error_data={"messaging_product": "whatsapp", "details": "More than 24 hours."},
            ),
        )
    )
    exc = failure(send)
    assert exc.retryable is False
    assert exc.code == "131047"
    assert exc.detail == "Re-engagement message"


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 131026, "Message undeliverable"),
        (401, 190, "Error validating access token: Session has expired."),
        (403, 200, "Permissions error"),
        (404, 100, "Unsupported post request."),
    ],
)
def test_other_client_errors_fail_at_once(
    graph: RecordingServer, send: Send, status: int, code: int, message: str
) -> None:
    graph.queue((status, graph_error(code, message)))
    exc = failure(send)
    assert (exc.retryable, exc.code, exc.detail) == (False, str(code), message)


def test_an_error_text_quoting_the_token_is_scrubbed(graph: RecordingServer, send: Send) -> None:
    graph.queue((400, graph_error(190, f"Malformed access token {TOKEN}")))
    exc = failure(send)
    assert exc.code == "190"
    assert "Malformed access token" in exc.detail


def test_a_timeout_is_retried(graph: RecordingServer, send: Send) -> None:
    def slow(_r: Recorded) -> tuple[int, Any]:
        time.sleep(0.5)
        return 200, {}

    graph.default = slow
    try:
        started = time.monotonic()
        exc = failure(send, timeout_s=0.1)
        assert time.monotonic() - started < 0.45
    finally:
        graph.default = lambda _r: (200, {})
    assert exc.retryable is True
    assert exc.code == "TIMEOUT"


def test_a_refused_connection_is_retried(send: Send) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exc = failure(send, url=f"http://127.0.0.1:{port}")
    assert exc.retryable is True
    assert exc.code == "NETWORK"


def test_a_success_answer_without_an_id_is_not_retried(graph: RecordingServer, send: Send) -> None:
    # The message may well have gone out: sending it again would duplicate it.
    graph.queue((200, {}))
    exc = failure(send)
    assert exc.retryable is False
    assert exc.code == "BAD_RESPONSE"


def test_the_token_travels_only_in_the_authorization_header(
    graph: RecordingServer, send: Send
) -> None:
    graph.queue((200, {"messages": [{"id": "wamid.X"}], "message_id": "mid.X"}))
    send()
    [req] = graph.requests
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in req.path
    assert TOKEN.encode() not in req.body
