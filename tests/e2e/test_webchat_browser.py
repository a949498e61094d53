"""The web chat widget in a real browser against a real server: headless Chromium
on a phone-sized screen, the app under uvicorn on a loopback port (embedded
SQLite, in-process relay and channel workers).

A guest opens the widget, writes, sees the bot's reply, reloads and finds the
conversation again; text is shown as text, never as markup; and the widget
works from a restaurant site on another origin than SaveIt's.

Under ``CI=true`` a missing Chromium (or Playwright) fails the run instead of
skipping it. ``SAVEIT_TEST_CHROMIUM`` overrides the browser's path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app_from_env
from saveit.api.routers import webchat
from saveit.booking.service import utc_now
from saveit.channels.webchat.protocol import identity_of
from saveit.domain.messages import Button, OutboundMessage
from saveit.messaging.gateway import Gateway
from saveit.messaging.inbox import InboxResponder
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.schema import (
    channel_identities,
    channel_messages,
    conversations,
    reservations,
)
from tests.e2e.chaos_support import free_port
from tests.support import demo_document, weekday_ahead_es

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SAVEIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
SECRET = "webchat-e2e-secret"
WAIT_MS = 15_000  # a reply travels store -> worker -> outbox -> relay -> hub -> socket


def serve_app() -> FastAPI:
    """The server process's app factory: the real app, with the web chat routes."""
    app = create_app_from_env()
    if "/ws/chat/{slug}" not in {getattr(r, "path", None) for r in app.routes}:
        app.include_router(webchat.router)
    return app


@dataclass(frozen=True)
class Server:
    base: str
    database_url: str


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("webchat-e2e")
    database_url = f"sqlite:///{data / 'saveit.db'}"
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        apply_spec(engine, parse_document(demo_document()))
    finally:
        engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(
        SAVEIT_DATA_DIR=str(data),
        SAVEIT_SECRET_KEY=SECRET,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    port = free_port()
    log = data / "server.log"
    args = [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:serve_app"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the server did not come up:\n{log.read_text()[-4000:]}")
        yield Server(base, database_url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def server(running: Server) -> str:
    return running.base


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    launched = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A fresh phone-sized page; any script error or CSP violation on it fails the test."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="es-ES", device_scale_factor=2
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    yield page
    context.close()
    assert problems == []


def test_a_guest_chats_on_a_phone_and_finds_the_conversation_after_a_reload(
    server: str, phone: Any
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{server}/chat/demo")
    launcher = phone.locator(".launcher")
    expect(launcher).to_be_visible()
    launcher.tap()
    panel = phone.locator(".panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None
    assert (round(box["width"]), round(box["height"])) == (PHONE["width"], PHONE["height"])
    expect(phone.locator(".title")).to_have_text("Casa Demo")

    asking = f"Hola, ¿tenéis mesa para dos el {weekday_ahead_es()}?"
    phone.locator(".input").fill(asking)
    phone.locator(".input").press("Enter")
    guest = phone.locator(".msg.in .text")
    expect(guest).to_have_text([asking])
    asked = "¿A qué hora?"  # the bot knows the day and the party: it offers times
    expect(phone.locator(".msg.out .text")).to_contain_text([asked], timeout=WAIT_MS)
    expect(phone.locator(".msg.pending")).to_have_count(0)

    # Markup from the guest (or the bot) is text, never HTML.
    sneaky = '<img src=x onerror="window.__owned=1"><b>negrita</b>'
    phone.locator(".input").fill(sneaky)
    phone.locator(".send").tap()
    expect(guest.last).to_have_text(sneaky)
    expect(phone.locator(".msg.pending")).to_have_count(0, timeout=WAIT_MS)
    assert phone.locator(".log img, .log b").count() == 0
    assert phone.evaluate("window.__owned") is None

    phone.reload()
    expect(phone.locator(".panel")).to_be_visible()  # an open chat stays open
    expect(phone.locator(".msg.in .text")).to_have_text([asking, sneaky], timeout=WAIT_MS)
    expect(phone.locator(".msg.out .text").first).to_contain_text(asked)
    expect(phone.locator(".status")).to_have_text("")

    phone.locator(".close").tap()
    expect(phone.locator(".panel")).to_be_hidden()
    expect(launcher).to_be_visible()


@pytest.fixture
def restaurant_site(server: str) -> Iterator[str]:
    """A restaurant's own site on another origin (``localhost`` and another port)
    whose page carries nothing of SaveIt's but the one script tag. Loopback too,
    so the browser's private-network rules see no public site reaching inwards."""
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><link rel='icon' href='data:,'>"
        "<title>Casa Demo</title></head><body><h1>Casa Demo</h1>"
        f"<script src='{server}/widget.js' data-restaurant='demo' data-lang='en' async></script>"
        "</body></html>"
    ).encode()

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_the_widget_works_from_a_restaurant_site_on_another_origin(
    server: str, restaurant_site: str, phone: Any
) -> None:
    from playwright.sync_api import expect

    phone.goto(restaurant_site)
    phone.locator(".launcher").tap()
    expect(phone.locator(".input")).to_have_attribute("placeholder", "Write a message…")
    phone.locator(".input").fill("Do you have a table tonight?")
    phone.locator(".input").press("Enter")
    expect(phone.locator(".msg.out .text")).to_contain_text(
        ["How many people will you be?"], timeout=WAIT_MS
    )
    token = phone.evaluate("key => localStorage.getItem(key)", f"saveit-chat:{server}:demo")
    assert isinstance(token, str)
    assert len(token) == 32


def test_a_guest_books_a_table_by_tapping_the_bots_choices(running: Server, phone: Any) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{running.base}/chat/demo?lang=es")
    phone.locator(".launcher").tap()
    phone.locator(".input").fill("mesa para 2 mañana porfa")
    phone.locator(".input").press("Enter")
    choices = phone.locator(".choice")
    expect(phone.locator(".choices-label")).to_have_text("Ver horas", timeout=WAIT_MS)
    picked = choices.nth(2).inner_text()
    choices.nth(2).tap()
    expect(phone.locator(".msg.out .text").last).to_contain_text(
        "¿A nombre de quién", timeout=WAIT_MS
    )
    phone.locator(".input").fill("Marta Gil")
    phone.locator(".input").press("Enter")
    expect(choices).to_have_text(["Sí", "No"], timeout=WAIT_MS)
    expect(phone.locator(".msg.out .text").last).to_contain_text(f"a las {picked}")
    choices.first.tap()
    expect(phone.locator(".msg.out .text").last).to_contain_text("Código:", timeout=WAIT_MS)
    expect(choices).to_have_count(0)
    code = phone.locator(".msg.out .text").last.inner_text().split("Código:")[1].split()[0]
    engine = create_db_engine(running.database_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                select(reservations.c.status, reservations.c.party_size).where(
                    reservations.c.code == code
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(found) == ("confirmed", 2)


def test_quick_replies_show_as_buttons_and_a_tap_answers(running: Server, phone: Any) -> None:
    """A message with buttons (here queued as staff would, from another process)
    shows them as quick replies; tapping one sends the choice, not free text."""
    from playwright.sync_api import expect

    phone.goto(f"{running.base}/chat/demo?lang=es")
    phone.locator(".launcher").tap()
    phone.locator(".input").fill("Quiero reservar")
    phone.locator(".input").press("Enter")
    expect(phone.locator(".msg.out")).to_have_count(1, timeout=WAIT_MS)
    token = phone.evaluate("key => localStorage.getItem(key)", f"saveit-chat:{running.base}:demo")
    engine = create_db_engine(running.database_url)
    try:
        with engine.connect() as conn:
            conversation_id = conn.execute(
                select(conversations.c.id)
                .join(channel_identities, channel_identities.c.guest_id == conversations.c.guest_id)
                .where(channel_identities.c.external_id == identity_of(SECRET.encode(), token))
            ).scalar_one()
        gateway = Gateway(engine, senders={}, responder=InboxResponder(), clock=utc_now)
        gateway.send_to_conversation(
            conversation_id,
            OutboundMessage(
                text="¿Para cuántas personas?",
                buttons=(Button("p2", "2 personas"), Button("p4", "4 personas")),
            ),
            author="staff:ana",
        )
        choices = phone.locator(".choice")
        expect(choices).to_have_text(["2 personas", "4 personas"], timeout=WAIT_MS)
        # A token's own name ("ana") is for the audit: the guest sees "el equipo".
        expect(phone.locator(".msg.out .author").last).to_have_text("el equipo")
        choices.nth(1).tap()
        expect(phone.locator(".msg.in .text").last).to_have_text("4 personas")
        expect(choices).to_have_count(0)
        expect(phone.locator(".msg.pending")).to_have_count(0, timeout=WAIT_MS)
        with engine.connect() as conn:
            body = conn.execute(
                select(channel_messages.c.body)
                .where(channel_messages.c.direction == "in")
                .order_by(channel_messages.c.id.desc())
                .limit(1)
            ).scalar_one()
        assert body["choice"] == {"id": "p4", "title": "4 personas"}
    finally:
        engine.dispose()
