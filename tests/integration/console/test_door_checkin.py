"""The door scanner's page over HTTP (the app in-process, on SQLite and
PostgreSQL, with a clock moved by hand): what the host sees for every answer a
scan or a typed code can get, that a refusal changes nothing, the arrivals, the
page's policy and its two languages. The camera itself is in the browser test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from tests.support import FakeClock, demo_document

PASSWORD = "correct-horse-battery"
STAFF = Actor("staff", "phone", "api")
START = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
DOOR = "/console/r/demo/door"


@pytest.fixture
def container(settings: Settings, clock: FakeClock) -> Iterator[Container]:
    built = build(
        settings.model_copy(update={"console_signin_per_minute": 1000}), clock=clock, migrate=False
    )
    apply_spec(built.engine, parse_document(demo_document()))
    apply_spec(built.engine, parse_document(demo_document(slug="other", name="Otra")))
    yield built
    built.close()


@pytest.fixture
def host(container: Container, clock: FakeClock) -> Iterator[TestClient]:
    """A host signed in at 19:00 in Madrid; tests move the clock forward only (a
    session ends after two idle hours)."""
    clock.now = START.replace(hour=17, minute=0)
    app = create_app(container)
    app.state.console.staff.add(
        "demo", email="h@example.com", name="Hana", role="host", password=PASSWORD
    )
    with TestClient(app, base_url="http://127.0.0.1", headers={"Accept-Language": "en"}) as client:
        form = client.get("/console/sign-in")
        signed = client.post(
            "/console/sign-in",
            data={"csrf": _csrf(form.text), "email": "h@example.com", "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def book(
    container: Container, name: str, slug: str = "demo", start: datetime = START
) -> ReservationView:
    made = container.booking.create(
        CreateReservation(
            restaurant=slug,
            start=start,
            party_size=4,
            guest=GuestDetails(name=name, phone=f"+3460{abs(hash(name)) % 10_000_000:07d}"),
            notes="window seat",
        ),
        STAFF,
    )
    return made.reservation


def door(client: TestClient, code: str, *, htmx: bool = True) -> tuple[int, str]:
    page = client.get(DOOR)
    headers = {"HX-Request": "true"} if htmx else {}
    answer = client.post(DOOR, data={"csrf": _csrf(page.text), "code": code}, headers=headers)
    return answer.status_code, answer.text


def region(html: str, which: str) -> str:
    """The text inside one of the page's live regions (``door-welcome``/``door-refusal``)."""
    found = re.search(
        rf'<div id="{which}"[^>]*>(.*?)</div>\s*(?:<div id="door-|</?section|$)', html, re.S
    )
    assert found is not None, html
    return html_text(found.group(1))


def html_text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


def test_a_scan_welcomes_the_guest_with_the_table_and_lists_them_as_arrived(
    container: Container, host: TestClient, clock: FakeClock
) -> None:
    ana = book(container, "Ana García")
    token = container.checkin.token_for(ana)
    clock.now = START.replace(hour=18, minute=45)

    status, html = door(host, token)

    assert status == 200
    welcome = region(html, "door-welcome")
    assert "Welcome, Ana García!" in welcome
    assert f"Table {ana.tables[0]}" in welcome
    assert "4 people · 21:00" in welcome
    assert region(html, "door-refusal") == ""
    assert 'hx-swap-oob="innerHTML"' in html  # both regions are replaced in place
    assert container.booking.get(ana.code).status is Status.CHECKED_IN
    arrived = host.get(f"{DOOR}/arrived").text
    assert "Ana García" in arrived


def test_every_refusal_says_why_and_changes_nothing(
    container: Container, host: TestClient, clock: FakeClock
) -> None:
    early = book(container, "Eva Pronto")
    cancelled = book(container, "Carla Cancel", start=START.replace(hour=19, minute=30))
    elsewhere = book(container, "Otto Otro", slug="other")
    arrived = book(container, "Ines Dentro", start=START.replace(hour=20, minute=0))
    tokens = {
        v.code: container.checkin.token_for(v) for v in (early, cancelled, elsewhere, arrived)
    }
    container.booking.cancel(cancelled.code, STAFF)

    clock.now = START.replace(hour=17, minute=0)  # 19:00 in Madrid: two hours early
    status, html = door(host, tokens[early.code])
    assert status == 422
    said = region(html, "door-refusal")
    assert "Too early" in said
    assert "Check-in opens at 20:30" in said
    assert "Eva Pronto" in said
    assert region(html, "door-welcome") == ""

    clock.now = START.replace(hour=18, minute=50)
    _, html = door(host, tokens[cancelled.code])
    assert "Booking cancelled" in region(html, "door-refusal")

    _, html = door(host, tokens[elsewhere.code])
    said = region(html, "door-refusal")
    assert "Another restaurant's code" in said
    assert "Otto" not in said

    forged = tokens[early.code][:-3] + ("AAA" if not tokens[early.code].endswith("AAA") else "BBB")
    _, html = door(host, forged)
    assert "Not a valid code" in region(html, "door-refusal")

    _, html = door(host, "ZZZZ9999")
    assert "No booking with the code ZZZZ9999 here" in region(html, "door-refusal")
    _, html = door(host, elsewhere.code)  # another restaurant's code is unknown here
    assert f"No booking with the code {elsewhere.code} here" in region(html, "door-refusal")

    clock.now = START.replace(hour=20, minute=0)
    assert door(host, tokens[arrived.code])[0] == 200
    status, html = door(host, tokens[arrived.code])
    assert status == 422
    said = region(html, "door-refusal")
    assert "Already checked in" in said
    assert "already checked in" in said

    clock.now = START.replace(hour=21, minute=30)  # the early guest never came: 45 min late
    _, html = door(host, tokens[early.code])
    assert "Code expired" in region(html, "door-refusal")

    for view in (early, elsewhere):
        assert container.booking.get(view.code).status is Status.CONFIRMED
    assert container.booking.get(cancelled.code).status is Status.CANCELLED


def test_a_typed_code_checks_in_by_the_same_rules_in_either_case(
    container: Container, host: TestClient, clock: FakeClock
) -> None:
    ana = book(container, "Ana Tecleada")
    clock.now = START.replace(hour=17, minute=0)
    status, html = door(host, ana.code.lower())
    assert status == 422
    assert "Too early" in region(html, "door-refusal")

    clock.now = START.replace(hour=18, minute=40)
    status, html = door(host, f"  {ana.code.lower()} ")
    assert status == 200
    assert "Welcome, Ana Tecleada!" in region(html, "door-welcome")
    assert container.booking.get(ana.code).status is Status.CHECKED_IN


def test_without_javascript_the_page_answers_in_spanish_with_the_wasm_policy(
    container: Container, host: TestClient, clock: FakeClock
) -> None:
    ana = book(container, "Ana Sin Script")
    page = host.get(DOOR)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy
    assert "unsafe-inline" not in policy
    assert "'unsafe-eval'" not in policy
    assert "wasm-unsafe-eval" not in host.get("/console/r/demo").headers["content-security-policy"]
    wasm = host.get(re.search(r'data-wasm="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    assert wasm.status_code == 200
    assert wasm.headers["content-type"] == "application/wasm"

    host.post("/console/account/language", data={"csrf": _csrf(page.text), "language": "es"})
    clock.now = START.replace(hour=18, minute=45)
    status, html = door(host, ana.code, htmx=False)
    assert status == 200
    assert "<h1>Escáner de la puerta</h1>" in html
    assert "¡Bienvenido/a, Ana Sin Script!" in region(html, "door-welcome")
    assert "Han llegado hoy" in html
    status, html = door(host, ana.code, htmx=False)
    assert status == 422
    assert "Ya ha llegado" in region(html, "door-refusal")


def test_the_arrivals_are_todays_checked_in_guests_last_first(
    container: Container, host: TestClient, clock: FakeClock
) -> None:
    first = book(container, "Primera Llegada", start=START.replace(hour=18, minute=30))
    second = book(container, "Segunda Llegada")
    waiting = book(container, "Todavia Fuera", start=START.replace(hour=20, minute=30))
    clock.now = START.replace(hour=18, minute=30)
    assert door(host, first.code)[0] == 200
    clock.advance(minutes=20)
    assert door(host, second.code)[0] == 200

    listed = host.get(f"{DOOR}/arrived").text
    assert listed.index("Segunda Llegada") < listed.index("Primera Llegada")
    assert "Todavia Fuera" not in listed
    assert waiting.code not in listed
    assert "(2 parties)" in listed
    # The first table finishing is a later change, not a later arrival: the order
    # stays (fails before the fix, which sorted by the last change).
    clock.advance(minutes=60)
    container.booking.complete(first.code, STAFF)
    listed = host.get(f"{DOOR}/arrived").text
    assert listed.index("Segunda Llegada") < listed.index("Primera Llegada")
    clock.now = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)  # the next morning: a new day
    assert container.checkin.arrivals("demo") == []
