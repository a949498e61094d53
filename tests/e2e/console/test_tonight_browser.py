"""Tonight in real browsers, on SQLite and on PostgreSQL + Redis: two hosts watch
the timeline while a guest books on WhatsApp (a signed webhook; the bot answers
through the Graph API stand-in) and the booking appears on both within a second;
one host drags a booking onto a taken table and sees it refused while the
booking stays put on both screens, then drags it onto a free one; a stale edit
is refused; the page passes axe and leaves a screenshot."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.console.conftest import (
    ADMIN_TOKEN,
    META_APP_SECRET,
    PHONE,
    WHATSAPP_NUMBER_ID,
    Console,
    check_accessibility,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.timeout(300)
MADRID = ZoneInfo("Europe/Madrid")


def _today() -> datetime:
    return datetime.now(MADRID)


def _day(offset: int) -> str:
    return (_today().date() + timedelta(days=offset)).isoformat()


def _open_timeline(page: Any, console: Console, day: str, view: str = "timeline") -> None:
    from playwright.sync_api import expect

    page.goto(f"{console.base}/console/r/demo/tonight?date={day}&view={view}")
    expect(page.locator("#tonight-live")).to_have_attribute("data-state", "open")


def _book(console: Console, day: str, at: str, party: int, name: str, tables: list[str]) -> Any:
    made = httpx.post(
        f"{console.base}/v1/restaurants/demo/reservations",
        json={
            "date": day,
            "time": at,
            "party_size": party,
            "name": name,
            "tables": tables,
            "source": "phone",
        },
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["reservation"]


class WhatsAppGuest:
    """A guest writing to the restaurant's WhatsApp number: Meta's signed webhook."""

    def __init__(self, console: Console, phone: str, name: str) -> None:
        self.console = console
        self.phone = phone
        self.name = name

    def _send(self, content: dict[str, Any]) -> None:
        message = {
            "from": self.phone,
            "id": f"wamid.T{uuid.uuid4().hex}",
            "timestamp": str(int(time.time())),
            **content,
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "34910000001",
                "phone_number_id": WHATSAPP_NUMBER_ID,
            },
            "contacts": [{"profile": {"name": self.name}, "wa_id": self.phone}],
            "messages": [message],
        }
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": "2000001", "changes": [{"value": value, "field": "messages"}]}],
            }
        ).encode()
        digest = hmac.new(META_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = httpx.post(
            f"{self.console.base}/webhooks/whatsapp",
            content=body,
            headers={"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def says(self, text: str) -> dict[str, Any]:
        """Send a text and wait for the bot's answer (sent to the Graph API stand-in)."""
        graph = self.console.graph
        assert graph is not None
        before = len(graph.requests)
        self._send({"type": "text", "text": {"body": text}})
        deadline = time.monotonic() + 15
        while True:
            mine = [r.json() for r in graph.requests[before:] if r.json().get("to") == self.phone]
            if mine:
                reply: dict[str, Any] = mine[-1]
                return reply
            assert time.monotonic() < deadline, "the bot did not answer"
            time.sleep(0.02)

    def taps(self, reply_id: str, title: str) -> None:
        """Tap a reply button, without waiting: the caller times what follows."""
        self._send(
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": reply_id, "title": title},
                },
            }
        )


WATCH = """(name) => {
  window.__seenAt = null;
  const blocks = () => [...document.querySelectorAll(".tl-block")];
  const seen = () => blocks().some(b => b.textContent.includes(name));
  new MutationObserver(() => {
    if (window.__seenAt === null && seen()) {
      window.__seenAt = performance.timeOrigin + performance.now();
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""


def _text(sent: dict[str, Any]) -> str:
    if sent.get("type") == "text":
        return str(sent["text"]["body"])
    return str(sent["interactive"]["body"]["text"])


def test_a_whatsapp_booking_appears_on_two_open_timelines_within_a_second(
    console: Console, new_page: Any
) -> None:
    from playwright.sync_api import expect

    tomorrow = _day(1)
    hosts = [console.person("demo", "host"), console.person("demo", "host")]
    pages = [new_page(), new_page(viewport=PHONE, is_mobile=True, has_touch=True)]
    for page, host in zip(pages, hosts, strict=True):
        sign_in(page, console, host)
        _open_timeline(page, console, tomorrow)

    name = f"Lucía {uuid.uuid4().hex[:6]}"
    guest = WhatsAppGuest(console, f"3460{uuid.uuid4().int % 10**7:07d}", name)
    question = guest.says("Hola! mesa para 2 mañana a las 14:00 por favor")
    assert "¿Te reservo mesa para 2 personas" in _text(question), _text(question)
    yes = question["interactive"]["action"]["buttons"][0]["reply"]
    assert yes["title"] == "Sí"

    for page in pages:  # note in the page when the block shows up (no polling delay)
        page.evaluate(WATCH, name)
    started = time.time() * 1000
    guest.taps(yes["id"], yes["title"])
    for page in pages:
        expect(page.locator(".tl-block", has_text=name).first).to_be_visible(timeout=5000)
    elapsed = max(page.evaluate("() => window.__seenAt") for page in pages) - started
    assert elapsed < 1000, f"the booking took {elapsed:.0f} ms to appear on both screens"
    block = pages[0].locator(".tl-block", has_text=name).first
    expect(block).to_contain_text("WA")
    expect(block.locator(".visually-hidden")).to_have_text(
        re.compile(rf"^{name}, 2 guests, 14:00–15:30, Confirmed, WhatsApp, table T")
    )


def _drop_x(page: Any, track: Any, at: str, block: Any) -> float:
    """Where on ``track`` to drop ``block`` (grabbed at its centre) so it starts at ``at``."""
    origin = page.locator(".tl").get_attribute("data-origin")
    columns = int(page.locator(".tl").get_attribute("data-columns"))
    start = datetime.fromisoformat(origin)
    day = start.astimezone(MADRID).date()
    target = datetime.fromisoformat(f"{day}T{at}:00").replace(tzinfo=MADRID)
    column = int((target - start).total_seconds() // 900)
    width = track.bounding_box()["width"] / columns
    return column * width + block.bounding_box()["width"] / 2 + 1


def test_dragging_onto_a_taken_table_is_refused_and_onto_a_free_one_moves_it(
    console: Console, new_page: Any
) -> None:
    from playwright.sync_api import expect

    day = _day(2)
    suffix = uuid.uuid4().hex[:5]
    ana = _book(console, day, "21:00", 2, f"Ana {suffix}", ["T3"])
    _book(console, day, "21:00", 2, f"Bruno {suffix}", ["T4"])
    pages = [new_page(), new_page()]
    for page in pages:
        sign_in(page, console, console.person("demo", "host"))
        _open_timeline(page, console, day)
    one, two = pages

    block = one.locator(f"#b-{ana['code']}-T3")
    taken = one.locator('.tl-track[data-table="T4"]')
    block.drag_to(taken, target_position={"x": _drop_x(one, taken, "21:00", block), "y": 8})
    expect(one.locator("#tonight-alert")).to_have_text(
        "That time or table is taken. The booking stays where it was."
    )
    expect(one.locator(f"#b-{ana['code']}-T3")).to_be_visible()
    expect(one.locator(f'.tl-track[data-table="T4"] [data-code="{ana["code"]}"]')).to_have_count(0)
    expect(two.locator(f"#b-{ana['code']}-T3")).to_be_visible()
    check_accessibility(one, what="timeline after a refused move")

    # The other host drags it onto a free table: both screens show the move.
    block = two.locator(f"#b-{ana['code']}-T3")
    free = two.locator('.tl-track[data-table="T5"]')
    block.drag_to(free, target_position={"x": _drop_x(two, free, "21:00", block), "y": 8})
    for page in pages:  # the first screen follows through the live feed
        expect(page.locator(f"#b-{ana['code']}-T5")).to_be_visible()
        expect(page.locator(f"#b-{ana['code']}-T3")).to_have_count(0)
    expect(two.locator("#tonight-alert")).to_have_text("")


def test_a_stale_edit_is_refused_and_the_panel_shows_the_booking_as_it_is(
    console: Console, new_page: Any
) -> None:
    from playwright.sync_api import expect

    day = _day(3)
    suffix = uuid.uuid4().hex[:5]
    carla = _book(console, day, "20:30", 2, f"Carla {suffix}", ["T6"])
    pages = [new_page(), new_page()]
    for page in pages:
        sign_in(page, console, console.person("demo", "host"))
        _open_timeline(page, console, day)
        page.locator(f"#b-{carla['code']}-T6").click()
        expect(page.locator("#tonight-detail h2")).to_contain_text(carla["code"])
    one, two = pages

    two.locator("#tonight-detail").get_by_label("Guests", exact=True).select_option("4")
    two.get_by_role("button", name="Save changes").click()
    expect(two.locator("#tonight-detail [role=status]")).to_have_text("Saved.")
    # The first screen is told, and its old form is refused rather than obeyed.
    expect(one.locator("[data-changed-note]")).to_be_visible()
    one.locator("#tonight-detail").get_by_label("Notes", exact=True).fill("window seat")
    one.get_by_role("button", name="Save changes").click()
    expect(one.locator("#tn-problem")).to_contain_text(
        "Someone else changed this booking meanwhile"
    )
    expect(one.locator("#tonight-detail .tn-facts")).to_contain_text("4")
    expect(one.locator("#tonight-detail").get_by_label("Guests", exact=True)).to_have_value("4")
    check_accessibility(one, what="timeline with a refused edit")
    screenshot(one, "timeline", console)

    one.get_by_role("link", name="List").click()
    expect(one.locator("table.tn-list")).to_contain_text(f"Carla {suffix}")
    one.get_by_role("searchbox", name="Search").fill(f"carla {suffix}")
    expect(one.locator("table.tn-list tbody tr")).to_have_count(1)
    check_accessibility(one, what="list view")
    screenshot(one, "tonight-list", console)
