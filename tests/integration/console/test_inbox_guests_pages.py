"""The console's Inbox and Guests pages in-process, on SQLite and PostgreSQL: the
list's order, WhatsApp's 24-hour window (said before anyone types, and a reply
refused or carried by the approved template), restaurants kept apart, guest
search by name, phone and email, and notes and tags validated in place."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.console.services import ConsoleServices
from tests.conftest import ADMIN_TOKEN
from tests.integration.conftest import channel_app
from tests.meta_webhooks import graph_answer, signed, whatsapp_text
from tests.recording_http import Recorded, RecordingServer, recording_server
from tests.support import FakeClock, demo_document

SECRET = "meta-app-secret-for-console-tests"
NUMBER_ID = "109876543210777"
PASSWORD = "correct-horse-battery"


def _answer(request: Recorded) -> tuple[int, Any]:
    if request.method == "GET":  # proving the number: it is ours
        return 200, {"id": NUMBER_ID, "display_phone_number": "+34 910 000 001"}
    return 200, graph_answer(request.body)


@pytest.fixture
def graph() -> Iterator[RecordingServer]:
    with recording_server(_answer) as server:
        yield server


@pytest.fixture
def app(
    settings: Settings, clock: FakeClock, graph: RecordingServer
) -> Iterator[tuple[TestClient, Container]]:
    with channel_app(
        settings,
        clock,
        {"whatsapp": {"phone_number_id": NUMBER_ID, "access_token": "wa-token"}},
        base_url="http://127.0.0.1",
        meta_app_secret=SecretStr(SECRET),
        graph_api_base=graph.url,
        console_signin_per_minute=1000,
    ) as running:
        yield running
    running[1].close()  # its engine's connections, before the next test's database


def _services(client: TestClient) -> ConsoleServices:
    return client.app.state.console  # type: ignore[attr-defined, no-any-return]


def _wait(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _signed_in(client: TestClient, slug: str = "demo", role: str = "host") -> str:
    email = f"{role}-{slug}@example.com"
    _services(client).staff.add(slug, email=email, name="Ana", role=role, password=PASSWORD)
    return _sign_in(client, email, slug)


def _sign_in(client: TestClient, email: str, slug: str = "demo") -> str:
    client.headers["accept-language"] = "en"
    form = client.get("/console/sign-in")
    done = client.post(
        "/console/sign-in",
        data={"csrf": _csrf(form.text), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303
    return _csrf(client.get(f"/console/r/{slug}").text)


def _writes(client: TestClient, graph: RecordingServer, sender: str, name: str, text: str) -> None:
    before = len(graph.requests)
    body = whatsapp_text(phone_number_id=NUMBER_ID, sender=sender, name=name, text=text)
    assert client.post("/webhooks/whatsapp", content=body, headers=signed(body, SECRET)).is_success
    _wait(lambda: len(graph.requests) > before)  # the bot answered


def _conversation_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-conversation="(\d+)"', html)]


def test_the_inbox_puts_handed_over_first_and_refuses_replies_the_window_cannot_carry(
    app: tuple[TestClient, Container], graph: RecordingServer, clock: FakeClock
) -> None:
    client, _ = app
    csrf = _signed_in(client)
    _writes(client, graph, "34600000101", "Pilar Ruiz", "quiero hablar con una persona")
    _writes(client, graph, "34600000102", "Tomás Gil", "hola, ¿abrís el lunes?")
    page = client.get("/console/r/demo/inbox")
    first, second = _conversation_ids(page.text)[:2]
    assert "Pilar Ruiz" in page.text.split(f'data-conversation="{second}"')[0]
    assert "Waiting for a person" in page.text

    # Within the window a reply goes out on WhatsApp, through the Graph stand-in.
    before = len(graph.requests)
    sent = client.post(
        f"/console/r/demo/inbox/{first}/reply",
        data={"csrf": csrf, "text": "Hola Pilar, soy Ana. ¿En qué te ayudo?"},
        headers={"HX-Request": "true"},
    )
    assert sent.status_code == 200
    _wait(lambda: len(graph.requests) > before)
    assert graph.requests[-1].json()["text"]["body"].startswith("Hola Pilar, soy Ana")
    blank = client.post(
        f"/console/r/demo/inbox/{first}/reply",
        data={"csrf": csrf, "text": "   "},
        headers={"HX-Request": "true"},
    )
    assert blank.status_code == 422
    assert 'aria-invalid="true"' in blank.text

    # A day later WhatsApp takes no free-form message and there is no template.
    clock.advance(hours=25)
    csrf = _sign_in(client, "host-demo@example.com")  # the session has lapsed meanwhile
    closed = client.get(f"/console/r/demo/inbox/{first}")
    assert "more than 24 hours" in closed.text
    assert re.search(r'<textarea id="reply-text"[^>]* disabled', closed.text)
    before = len(graph.requests)
    refused = client.post(
        f"/console/r/demo/inbox/{first}/reply",
        data={"csrf": csrf, "text": "¿Sigues ahí?"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422
    assert "no approved template" in refused.text
    time.sleep(0.2)
    assert len(graph.requests) == before

    # With an approved template the reply goes out inside it.
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    put = client.put(
        "/v1/restaurants/demo/channels/whatsapp",
        json={
            "phone_number_id": NUMBER_ID,
            "access_token": "wa-token",
            "template_name": "staff_reply",
        },
        headers=admin,
    )
    assert put.status_code == 200, put.text
    templated = client.get(f"/console/r/demo/inbox/{first}")
    assert "approved template" in templated.text
    ok = client.post(
        f"/console/r/demo/inbox/{first}/reply",
        data={"csrf": csrf, "text": "¿Sigues ahí?"},
        headers={"HX-Request": "true"},
    )
    assert ok.status_code == 200
    _wait(lambda: len(graph.requests) > before)
    assert graph.requests[-1].json()["type"] == "template"


def test_staff_of_one_restaurant_never_see_anothers_conversations_or_guests(
    app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, container = app
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otra")))
    _writes(client, graph, "34600000201", "Elena Soto", "hola")
    [conversation] = _conversation_ids(_demo_inbox(client))
    guest_id = _guest_ids(client, "Elena")[0]
    with _another(client) as other:
        csrf = _signed_in(other, "other")
        for path in (
            f"/console/r/other/inbox/{conversation}",
            f"/console/r/other/inbox/{conversation}/messages",
            f"/console/r/other/guests/{guest_id}",
        ):
            answer = other.get(path)
            assert answer.status_code == 404, path
            assert "Elena" not in answer.text
        assert "Elena" not in other.get("/console/r/other/inbox").text
        assert "Elena" not in other.get("/console/r/other/guests?q=Soto").text
        posted = other.post(
            f"/console/r/other/guests/{guest_id}", data={"csrf": csrf, "notes": "x", "tags": ""}
        )
        assert posted.status_code == 404
        assert other.get("/console/r/demo/inbox").status_code == 404


@contextmanager
def _another(client: TestClient) -> Iterator[TestClient]:
    """A second browser on the running app (its own cookies; the app's lifespan is
    the first client's, so it is not entered again)."""
    other = TestClient(client.app, base_url="http://127.0.0.1")
    try:
        yield other
    finally:
        other.close()


def _demo_inbox(client: TestClient) -> str:
    with _another(client) as host:
        _signed_in(host, "demo", "manager")
        return host.get("/console/r/demo/inbox").text


def _guest_ids(client: TestClient, query: str) -> list[int]:
    with _another(client) as host:
        _signed_in(host, "demo", "owner")
        html = host.get("/console/r/demo/guests", params={"q": query}).text
    return [int(n) for n in re.findall(r'/console/r/demo/guests/(\d+)"', html)]


def test_guests_are_found_by_name_phone_and_email_and_notes_are_validated_in_place(
    app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    client, _ = app
    csrf = _signed_in(client)
    _writes(client, graph, "34611223344", "Íñigo Lasa", "hola")
    # "ÍÑIGO" and "íñigo": letters beyond ASCII in any case (SQLite's own lower()
    # folded only ASCII, so these missed on the embedded default).
    for query in ("lasa", "LASA", "ÍÑIGO", "íñigo", "611 22 33", "+34611223344"):
        found = client.get("/console/r/demo/guests", params={"q": query})
        assert "Lasa" in found.text, query
    assert "Lasa" not in client.get("/console/r/demo/guests", params={"q": "zzz"}).text
    assert client.get("/console/r/demo/guests", params={"q": "x" * 101}).status_code == 422
    [guest_id] = [
        int(n)
        for n in re.findall(
            r'/console/r/demo/guests/(\d+)"',
            client.get("/console/r/demo/guests", params={"q": "lasa"}).text,
        )
    ]
    profile = client.get(f"/console/r/demo/guests/{guest_id}")
    assert "+34611223344" in profile.text
    assert "Open the conversation" in profile.text

    too_long = client.post(
        f"/console/r/demo/guests/{guest_id}",
        data={"csrf": csrf, "notes": "Mesa junto a la ventana", "tags": "VIP, " + "x" * 41},
        headers={"HX-Request": "true"},
    )
    assert too_long.status_code == 422
    assert re.search(r'id="guest-tags"[^>]*aria-invalid="true"', too_long.text)
    assert "Mesa junto a la ventana" in too_long.text  # what was typed stays
    saved = client.post(
        f"/console/r/demo/guests/{guest_id}",
        data={"csrf": csrf, "notes": "Mesa junto a la ventana", "tags": "VIP, vip , terraza,"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    again = client.get(f"/console/r/demo/guests/{guest_id}").text
    assert "Mesa junto a la ventana" in again
    assert 'value="VIP, terraza"' in again
    forged = client.post(
        f"/console/r/demo/guests/{guest_id}", data={"csrf": "nope", "notes": "", "tags": ""}
    )
    assert forged.status_code == 403
    assert "Mesa junto a la ventana" in client.get(f"/console/r/demo/guests/{guest_id}").text
