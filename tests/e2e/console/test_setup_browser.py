"""The Setup pages in a real browser, on SQLite and on PostgreSQL + Redis: a
manager changes a service's hours and a guest's availability changes with it; a
special closed date closes the day; a refused value is shown next to its field
and changes nothing; a host cannot open setup; axe-core finds nothing serious on
any setup page. Each test works on a restaurant of its own, so no other test's
bookings or hours are touched."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from saveit.admin.setup import apply_spec, parse_document
from saveit.store.database import create_db_engine
from tests.e2e.console.conftest import (
    PHONE,
    Console,
    check_accessibility,
    screenshot,
    sign_in,
)
from tests.support import demo_document

pytestmark = pytest.mark.timeout(300)

SECTIONS = ("Profile", "Opening hours", "Special dates", "Tables", "Booking rules", "Channels")


def _restaurant(console: Console) -> str:
    """A fresh copy of the demo restaurant (lunch 13-16, dinner 20-23:30 daily)."""
    slug = f"setup-{uuid.uuid4().hex[:8]}"
    engine = create_db_engine(console.database_url)
    try:
        apply_spec(engine, parse_document(demo_document(slug=slug, name="Casa Setup")))
    finally:
        engine.dispose()
    return slug


def _next(weekday: int, after_days: int = 3) -> date:
    """The first ``weekday`` at least ``after_days`` from today in Madrid."""
    day = datetime.now(ZoneInfo("Europe/Madrid")).date() + timedelta(days=after_days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _times(console: Console, slug: str, day: date) -> list[str]:
    answer = httpx.get(
        f"{console.base}/v1/restaurants/{slug}/availability",
        params={"date": day.isoformat(), "party_size": 2},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return [slot["time"] for slot in answer.json()["slots"]]


def test_a_manager_changes_a_services_hours_and_the_public_availability_follows(
    console: Console, page: Any
) -> None:
    from playwright.sync_api import expect

    slug = _restaurant(console)
    manager = console.person(slug, "manager")
    monday = _next(0)
    before = _times(console, slug, monday)
    assert "13:00" in before
    assert "12:00" not in before

    sign_in(page, console, manager)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Setup").click()
    expect(page.get_by_role("heading", level=1, name="Setup")).to_be_visible()
    sections = page.get_by_role("navigation", name="Setup sections")
    sections.get_by_role("link", name="Opening hours").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Setup: Opening hours")

    lunch = page.get_by_role("region", name="Service lunch 13:00–16:00")
    lunch.get_by_label("Opens").fill("12:00")
    lunch.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("region", name="Service lunch 12:00–16:00")).to_be_visible()

    after = _times(console, slug, monday)
    assert "12:00" in after
    assert after[0] == "12:00"
    assert set(before) < set(after)
    screenshot(page, "setup", console)


def test_a_special_closed_date_closes_that_day(console: Console, page: Any) -> None:
    from playwright.sync_api import expect

    slug = _restaurant(console)
    manager = console.person(slug, "manager")
    closed, next_day = _next(2), _next(2) + timedelta(days=1)
    assert _times(console, slug, closed)

    sign_in(page, console, manager)
    page.goto(f"{console.base}/console/r/{slug}/setup/dates")
    form = page.get_by_role("region", name="Add or replace a special date")
    form.get_by_label("Date").fill(closed.isoformat())
    form.get_by_label("Closed all day").check()
    form.get_by_label("Note").fill("Staff party")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    row = page.get_by_role("row", name=closed.isoformat())
    expect(row).to_contain_text("Closed")
    expect(row).to_contain_text("Staff party")
    check_accessibility(page, what="special dates with a date")

    assert _times(console, slug, closed) == []
    assert _times(console, slug, next_day)  # only that day

    row.get_by_role("button", name=f"Remove the special date {closed.isoformat()}").click()
    expect(page.get_by_role("status")).to_have_text("Removed.")
    assert _times(console, slug, closed)


def test_an_invalid_value_is_shown_next_to_its_field_and_changes_nothing(
    console: Console, page: Any
) -> None:
    from playwright.sync_api import expect

    slug = _restaurant(console)
    manager = console.person(slug, "manager")
    monday = _next(0)
    before = _times(console, slug, monday)

    sign_in(page, console, manager)
    page.goto(f"{console.base}/console/r/{slug}/setup/hours")
    dinner = page.get_by_role("region", name="Service dinner 20:00–23:30")
    dinner.get_by_label("Closes").fill("20:00")
    dinner.get_by_role("button", name="Save").click()
    closes = page.get_by_role("region", name="Service dinner 20:00–23:30").get_by_label("Closes")
    expect(closes).to_have_attribute("aria-invalid", "true")
    expect(closes).to_have_accessible_description(
        "a service cannot open and close at the same time"
    )
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    check_accessibility(page, what="hours with an error")

    page.goto(f"{console.base}/console/r/{slug}/setup/tables")
    t1 = page.get_by_role("form", name="T1")
    t1.get_by_label("Fewest guests").fill("5")
    t1.get_by_role("button", name="Save table T1").click()
    fewest = page.get_by_role("form", name="T1").get_by_label("Fewest guests")
    expect(fewest).to_have_accessible_description("min_capacity cannot exceed max_capacity")
    page.reload()
    expect(page.get_by_role("form", name="T1").get_by_label("Fewest guests")).to_have_value("1")
    assert _times(console, slug, monday) == before


def test_a_host_cannot_open_setup(console: Console, page: Any) -> None:
    from playwright.sync_api import expect

    slug = _restaurant(console)
    host = console.person(slug, "host")
    sign_in(page, console, host)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Setup")).to_have_count(0)
    for path in ("", "/profile", "/hours", "/dates", "/tables", "/rules", "/channels"):
        answer = page.goto(f"{console.base}/console/r/{slug}/setup{path}")
        assert answer is not None
        assert answer.status == 403, path
        expect(page.get_by_text("You do not have access to this page.")).to_be_visible()
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    posted = page.request.post(
        f"{console.base}/console/r/{slug}/setup/hours/new",
        form={"opens": "09:00", "closes": "11:00", "mon": "on"},
        headers={"X-CSRF-Token": token},
    )
    assert posted.status == 403
    assert "09:00" not in _times(console, slug, _next(0))


def test_every_setup_page_passes_the_accessibility_check(
    console: Console, page: Any, new_page: Any
) -> None:
    from playwright.sync_api import expect

    slug = _restaurant(console)
    owner = console.person(slug, "owner")
    sign_in(page, console, owner)
    page.goto(f"{console.base}/console/r/{slug}/setup")
    check_accessibility(page, what="setup overview")
    expect(
        page.get_by_role("link", name="Staff Who works here and with which role.")
    ).to_be_visible()
    for name in SECTIONS:
        page.get_by_role("navigation", name="Setup sections").get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Setup: {name}")
        check_accessibility(page, what=f"setup {name}")
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-ES")
    manager = console.person(slug, "manager")
    sign_in_es(phone, console, manager)
    phone.goto(f"{console.base}/console/r/{slug}/setup/rules")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Configuración: Reglas de reserva")
    check_accessibility(phone, what="setup rules on a phone, in Spanish")
    screenshot(phone, "setup-phone", console)


def sign_in_es(page: Any, console: Console, person: Any) -> None:
    page.goto(f"{console.base}/console/sign-in")
    page.get_by_label("Correo electrónico").fill(person.email)
    page.get_by_label("Contraseña").fill(person.password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state()
