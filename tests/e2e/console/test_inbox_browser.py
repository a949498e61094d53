"""The Inbox and Guests pages in a real browser, against a real server on SQLite and
on PostgreSQL + Redis: a guest asks for a person on WhatsApp (a signed webhook),
the conversation rises to the top of the open inbox, a staff reply reaches the
Graph API stand-in, and handing back lets the bot answer again; a guest is found
by name, phone and email and their notes and tags are edited and kept."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.console.conftest import (
    META_APP_SECRET,
    PHONE,
    Console,
    check_accessibility,
    screenshot,
    sign_in,
)
from tests.meta_webhooks import signed, whatsapp_text
from tests.recording_http import Recorded, RecordingServer

pytestmark = pytest.mark.timeout(300)


def _phone() -> str:
    return f"3466{random.randrange(10**7):07d}"


def _to(graph: RecordingServer, phone: str) -> list[Recorded]:
    return [r for r in list(graph.requests) if r.method == "POST" and r.json().get("to") == phone]


def _wait(predicate: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Guest:
    """Someone writing to the restaurant on WhatsApp."""

    def __init__(self, console: Console, graph: RecordingServer, number: str, name: str) -> None:
        self.console, self.graph, self.number, self.name = console, graph, number, name
        self.phone = _phone()

    def says(self, text: str, *, answered: bool = True) -> list[Recorded]:
        before = len(_to(self.graph, self.phone))
        body = whatsapp_text(
            phone_number_id=self.number, sender=self.phone, name=self.name, text=text
        )
        answer = httpx.post(
            f"{self.console.base}/webhooks/whatsapp",
            content=body,
            headers=signed(body, META_APP_SECRET),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        if answered:
            _wait(lambda: len(_to(self.graph, self.phone)) > before)
        else:
            time.sleep(1.5)  # the workers poll every 0.2 s: time enough to have answered
        return _to(self.graph, self.phone)[before:]


def _text(sent: Recorded) -> str:
    doc = sent.json()
    if doc["type"] == "text":
        return str(doc["text"]["body"])
    return str(doc["interactive"]["body"]["text"])


def test_a_guest_asks_for_a_person_staff_answer_and_hand_back_to_the_bot(
    console: Console, page: Any, graph_api: RecordingServer, whatsapp_number: str
) -> None:
    from playwright.sync_api import expect

    tag = random.randrange(10**4)
    pilar = Guest(console, graph_api, whatsapp_number, f"Pilar Ruiz {tag}")
    tomas = Guest(console, graph_api, whatsapp_number, f"Tomás Gil {tag}")
    pilar.says("hola")
    tomas.says("hola, buenas")

    host = console.person("demo", "host")
    sign_in(page, console, host)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    first = page.locator(".conversations > li").first
    expect(first).to_contain_text(tomas.name)

    # Pilar asks for a person: the bot says someone will answer, and stays quiet.
    handed = pilar.says("quiero hablar con una persona")
    assert handed, "the bot acknowledged the request"
    expect(first).to_contain_text(pilar.name, timeout=10_000)  # no reload: the list refreshes
    expect(first).to_contain_text("Waiting for a person")
    tomas.says("¿abrís el lunes?")  # newer, but Pilar waits for a person: she stays on top
    page.wait_for_timeout(5_000)
    expect(first).to_contain_text(pilar.name)
    check_accessibility(page, what="inbox list")

    first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Conversation with {pilar.name}")).to_be_visible()
    expect(page.locator("#handoff-state")).to_have_text("A person answers; the bot stays quiet")
    log = page.get_by_role("log")
    expect(log).to_contain_text("quiero hablar con una persona")
    expect(log.locator(".message.out").last).to_contain_text(re.compile("Sent|Delivered|Read"))
    expect(page.locator("#reply-window")).to_contain_text("Goes out on WhatsApp")

    # A staff reply goes out on her WhatsApp, through the Graph API stand-in.
    before = len(_to(graph_api, pilar.phone))
    page.get_by_label("Reply").fill("Hola Pilar, soy de sala. ¿En qué te ayudo?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status").filter(has_text="on its way")).to_be_visible()
    _wait(lambda: len(_to(graph_api, pilar.phone)) > before)
    sent = _to(graph_api, pilar.phone)[-1].json()
    assert sent["text"]["body"] == "Hola Pilar, soy de sala. ¿En qué te ayudo?"
    staff_message = log.locator(".message.staff").last
    expect(staff_message).to_contain_text("Hola Pilar, soy de sala.")
    expect(staff_message).to_contain_text("Sent")
    expect(page.get_by_label("Reply")).to_have_value("")
    check_accessibility(page, what="inbox thread after a reply")
    screenshot(page, "inbox", console)

    # While staff hold the conversation the bot stays quiet...
    assert pilar.says("vale, gracias", answered=False) == []
    expect(log).to_contain_text("vale, gracias", timeout=10_000)

    # ...and once handed back, it answers her next message again.
    page.get_by_role("button", name="Hand back to the bot").click()
    expect(page.get_by_text("The bot answers this guest again.")).to_be_visible()
    expect(page.locator("#handoff-state")).to_have_text("The bot answers")
    answered = pilar.says("¿tenéis mesa para 2 mañana a las 21:00?")
    assert answered, "the bot answers again"
    expect(log.locator(".message.out").last).to_contain_text(_text(answered[-1])[:20])
    expect(page.get_by_role("button", name="Take over from the bot")).to_be_visible()


def test_staff_find_a_guest_and_keep_notes_and_tags(
    console: Console,
    page: Any,
    new_page: Callable[..., Any],
    graph_api: RecordingServer,
    whatsapp_number: str,
) -> None:
    from playwright.sync_api import expect

    tag = random.randrange(10**4)
    lucia = Guest(console, graph_api, whatsapp_number, f"Lucía Prado {tag}")
    lucia.says("hola")
    manager = console.person("demo", "manager")
    sign_in(page, console, manager)
    page.goto(f"{console.base}/console/r/demo/guests")
    expect(page.get_by_role("heading", name="Guests", exact=True)).to_be_visible()

    search = page.get_by_label("Search by name, phone or email")
    results = page.locator("#guest-results")
    search.fill(f"prado {tag}")  # as one types: no button press needed
    expect(results.get_by_role("link", name=lucia.name)).to_be_visible()
    digits = lucia.phone[2:]  # the national number as staff would type it
    search.fill(f"{digits[:3]} {digits[3:6]} {digits[6:]}")
    expect(results.get_by_role("link", name=lucia.name)).to_be_visible()
    search.fill("nobody-matches-this")
    page.get_by_role("button", name="Search").click()
    expect(results).to_contain_text("No guest matches.")
    search.fill(lucia.name)
    page.get_by_role("button", name="Search").click()
    check_accessibility(page, what="guest search")

    results.get_by_role("link", name=lucia.name).click()
    expect(page.get_by_role("heading", name=lucia.name, level=1)).to_be_visible()
    expect(page.get_by_text(f"+{lucia.phone}")).to_be_visible()
    expect(page.get_by_role("link", name="Open the conversation")).to_be_visible()

    # A refusal shows beside the field and keeps what was typed.
    tags = page.get_by_label("Tags", exact=True)
    notes = page.get_by_label("Notes", exact=True)
    tags.fill("VIP, " + "x" * 41)
    notes.fill("Prefiere mesa junto a la ventana")
    page.get_by_role("button", name="Save notes and tags").click()
    expect(page.get_by_role("alert")).to_contain_text("at most 40 characters")
    expect(page.get_by_label("Tags", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Notes", exact=True)).to_have_value("Prefiere mesa junto a la ventana")
    check_accessibility(page, what="guest notes with an error")

    page.get_by_label("Tags", exact=True).fill("VIP, terraza, vip")
    page.get_by_role("button", name="Save notes and tags").click()
    expect(page.get_by_text("Notes and tags saved.")).to_be_visible()
    expect(page.get_by_role("list", name="Current tags")).to_have_text(re.compile(r"VIP\s*terraza"))
    screenshot(page, "guests", console)

    # Kept: a reload, and another person on a phone, see them.
    page.reload()
    expect(page.get_by_label("Tags", exact=True)).to_have_value("VIP, terraza")
    other = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(other, console, console.person("demo", "host"))
    other.goto(page.url)
    expect(other.get_by_label("Notes", exact=True)).to_have_value(
        "Prefiere mesa junto a la ventana"
    )
    check_accessibility(other, what="guest profile on a phone")
