"""The Analytics page in a real browser, on SQLite and on PostgreSQL + Redis: a
manager opens it on bookings, a no-show and a survey answer made through the
services, sees the figures (flagged against the brief's targets), the charts
drawn by Chart.js under the strict CSP, the heatmap and the comment; changes
the range and downloads the CSV. Hosts get 403; staff of one restaurant never
see another's figures, on the page or its CSV.

Each test sets up restaurants of its own (through the setup service), so the
figures are exactly what it made, whatever other tests do on the shared server.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from saveit.admin.setup import apply_spec, parse_document
from saveit.analytics.export import to_csv
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from tests.e2e.console.conftest import (
    PHONE,
    SECRET,
    Console,
    check_accessibility,
    screenshot,
    sign_in,
)
from tests.support import FakeClock, assign_account, demo_document

pytestmark = pytest.mark.timeout(240)

MADRID = ZoneInfo("Europe/Madrid")
STAFF = Actor("staff", "ana", "dashboard")
COMMENT = "La tortilla, perfecta"


@dataclass(frozen=True)
class Seeded:
    slug: str
    day: date  # the visits' day, five days ago in Madrid


@pytest.fixture
def services(console: Console, tmp_path: Path) -> Iterator[tuple[Container, FakeClock]]:
    """The server's database through a second container, on a clock of our own."""
    clock = FakeClock()
    settings = Settings(
        database_url=console.database_url,
        data_dir=tmp_path,
        secret_key=SECRET,  # type: ignore[arg-type]
        relay_in_process=False,
    )
    container = build(settings, clock=clock, migrate=False)
    yield container, clock
    container.close()


def _restaurant(container: Container, name: str) -> str:
    slug = f"{name.lower()}-{uuid.uuid4().hex[:8]}"
    apply_spec(container.engine, parse_document(demo_document(slug=slug, name=name)))
    return slug


def _seed(container: Container, clock: FakeClock, slug: str) -> Seeded:
    """Five days ago at dinner: two visits (web, phone), a no-show (WhatsApp) and a
    cancelled booking; the web guest answers the survey 4 / 5 with a comment."""
    day = datetime.now(MADRID).date() - timedelta(days=5)
    assign_account(container, slug, "sms", f"+3491{uuid.uuid4().int % 10**7:07d}", {})
    clock.now = datetime.combine(day, time(10), tzinfo=MADRID)
    start = datetime.combine(day, time(20), tzinfo=MADRID)
    codes = [
        container.booking.create(
            CreateReservation(
                slug,
                start,
                party,
                GuestDetails(name=f"Guest {n}", phone=f"+34611{uuid.uuid4().int % 10**6:06d}"),
                source=source,
            ),
            STAFF,
        ).reservation.code
        for n, (party, source) in enumerate([(2, "web"), (4, "phone"), (3, "whatsapp"), (2, "web")])
    ]
    container.booking.cancel(codes[3], STAFF)
    clock.now = start + timedelta(minutes=5)
    container.booking.check_in(codes[0], STAFF)
    container.booking.check_in(codes[1], STAFF)
    clock.now = start + timedelta(minutes=45)
    container.booking.no_show(codes[2], STAFF)
    clock.now = start + timedelta(hours=2)
    container.booking.complete(codes[0], STAFF)
    container.booking.complete(codes[1], STAFF)
    assert container.surveys.send_due() >= 1
    survey = container.surveys.of_reservation(codes[0])
    assert survey is not None
    assert survey.status == "sent"
    assert container.surveys.answer(survey, 4, COMMENT)
    rid, _ = container.analytics.missing_days(slug, day, day)
    container.analytics.rebuild(rid, day - timedelta(days=1), day + timedelta(days=1))
    return Seeded(slug, day)


def _figure(page: Any, key: str) -> Any:
    return page.locator(f"#figure-{key}")


def _charts_drawn(page: Any) -> int:
    return int(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('canvas[data-chart]'))
                 .filter(c => window.Chart.getChart(c) && c.width > 0).length"""
        )
    )


def test_a_manager_sees_figures_charts_and_comments_changes_the_range_and_downloads_the_csv(
    console: Console, services: tuple[Container, FakeClock], new_page: Any
) -> None:
    from playwright.sync_api import expect

    container, clock = services
    seeded = _seed(container, clock, _restaurant(container, "Ana"))
    manager = console.person(seeded.slug, "manager")
    page = new_page()
    sign_in(page, console, manager)
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Analytics"
    ).click()
    expect(page).to_have_url(f"{console.base}/console/r/{seeded.slug}/analytics")
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    # The default range: the last 30 days, ending today in Madrid.
    today = datetime.now(MADRID).date()
    expect(page.get_by_label("To")).to_have_value(today.isoformat())
    expect(page.get_by_label("From")).to_have_value((today - timedelta(days=29)).isoformat())

    expect(_figure(page, "bookings").locator(".value")).to_have_text("4")
    expect(_figure(page, "covers").locator(".value")).to_have_text("9")
    no_show = _figure(page, "no_show_rate")
    expect(no_show.locator(".value")).to_have_text("33.3%")
    expect(no_show).to_contain_text("Misses the target")
    expect(no_show).to_contain_text("Target: below 10%")
    expect(_figure(page, "satisfaction")).to_contain_text("4 / 5")
    expect(_figure(page, "satisfaction")).to_contain_text("Misses the target")
    expect(_figure(page, "success_rate")).to_contain_text("Meets the target")
    expect(_figure(page, "conversion")).to_contain_text("Nothing to count yet")
    expect(page.locator("#missed")).to_have_text(
        "Missing the target: No-show rate, Guest satisfaction."
    )
    no_show.get_by_text("How it is counted").click()
    expect(no_show).to_contain_text("No-shows over bookings whose guest was expected")

    # Six charts drawn on canvases by Chart.js, each with its table.
    expect(page.locator("canvas[data-chart]")).to_have_count(6)
    page.wait_for_function("() => window.Chart !== undefined")
    assert _charts_drawn(page) == 6
    bookings_chart = page.locator("figure").filter(has_text="Bookings by channel")
    bookings_chart.get_by_text("Show as a table").click()
    day_label = f"{seeded.day.day} {seeded.day.strftime('%b')}"
    row = bookings_chart.get_by_role("row", name=re.compile(rf"^{day_label}\b"))
    # Phone, Web (one of them cancelled), WhatsApp, and the day's total.
    expect(row.get_by_role("cell")).to_have_text(["1", "2", "1", "4"])

    heatmap = page.get_by_role("table", name=re.compile("Share of the table-minutes"))
    expect(heatmap).to_be_visible()
    weekday = seeded.day.strftime("%A")
    expect(heatmap.get_by_role("row", name=re.compile(f"^{weekday}"))).to_contain_text("%")
    expect(page.locator(".comments")).to_contain_text(COMMENT)
    expect(page.locator(".comments")).to_contain_text("4 / 5 · SMS")  # asked by SMS
    check_accessibility(page, what="analytics")
    screenshot(page, "analytics", console)

    # Another range: the day after the visits counts nothing.
    after = (seeded.day + timedelta(days=1)).isoformat()
    page.get_by_label("From").fill(after)
    page.get_by_label("To").fill(after)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"from={after}&to={after}&group=day"))
    expect(_figure(page, "bookings").locator(".value")).to_have_text("0")
    expect(page.locator(".comments")).to_have_count(0)
    assert _charts_drawn(page) == 6

    # The visits' day by service, and its CSV: the service's report, as the API's CSV.
    page.get_by_label("From").fill(seeded.day.isoformat())
    page.get_by_label("To").fill(seeded.day.isoformat())
    page.get_by_label("Group the table by").select_option("service")
    page.get_by_role("button", name="Show").click()
    grouped = page.locator("table.grouped")
    expect(grouped.get_by_role("rowheader")).to_have_text(["Dinner", "Lunch", "Total"])
    expect(grouped.get_by_role("row", name=re.compile("^Dinner"))).to_contain_text("33.3%")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    csv = Path(download.path()).read_text()
    expected = to_csv(container.analytics.report(seeded.slug, seeded.day, seeded.day, "service"))
    assert csv == expected
    assert csv.splitlines()[-1].startswith("total,4,9,")

    # Broken input is refused in place, accessibly.
    page.goto(f"{console.base}/console/r/{seeded.slug}/analytics?from={after}&to=2000-01-01")
    expect(page.get_by_role("alert")).to_contain_text("on or before the last day")
    check_accessibility(page, what="analytics with a bad range")

    # On a phone, in Spanish.
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(phone, console, manager)
    phone.get_by_label("Language").select_option("es")
    phone.get_by_role("button", name="Change language").click()
    phone.goto(f"{console.base}/console/r/{seeded.slug}/analytics")
    expect(phone.get_by_role("heading", name="Estadísticas", level=1)).to_be_visible()
    expect(_figure(phone, "no_show_rate").locator(".value")).to_have_text("33,3\u00a0%")
    expect(_figure(phone, "no_show_rate")).to_contain_text("No alcanza el objetivo")
    assert _charts_drawn(phone) == 6
    check_accessibility(phone, what="analytics on a phone, in Spanish")
    screenshot(phone, "analytics-phone", console)


def test_hosts_get_403_and_staff_never_see_another_restaurants_figures(
    console: Console, services: tuple[Container, FakeClock], new_page: Any
) -> None:
    from playwright.sync_api import expect

    container, clock = services
    page = new_page()
    a = _restaurant(container, "Alfa")
    b = _restaurant(container, "Beta")
    seeded = _seed(container, clock, a)
    host = console.person(a, "host")
    sign_in(page, console, host)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Analytics")).to_have_count(0)
    answer = page.goto(f"{console.base}/console/r/{a}/analytics")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_text("You do not have access to this page.")).to_be_visible()
    assert page.request.get(f"{console.base}/console/r/{a}/analytics/csv").status == 403

    owner_b = console.person(b, "owner")
    page = new_page()  # another browser, signed in as B's owner
    sign_in(page, console, owner_b)
    query = f"from={seeded.day}&to={seeded.day}&group=channel"
    for path in (f"/analytics?{query}", f"/analytics/csv?{query}"):
        answer = page.goto(f"{console.base}/console/r/{a}{path}")
        assert answer is not None
        assert answer.status == 404, path
        assert COMMENT not in page.content()
        assert "Alfa" not in page.content()
    fetched = page.request.get(f"{console.base}/console/r/{a}/analytics/csv?{query}")
    assert fetched.status == 404
    assert "total," not in fetched.text()
    # B's own page, over the same day: none of A's bookings or comments.
    page.goto(f"{console.base}/console/r/{b}/analytics?{query}")
    expect(_figure(page, "bookings").locator(".value")).to_have_text("0")
    expect(page.get_by_text(COMMENT)).to_have_count(0)
    own = page.request.get(f"{console.base}/console/r/{b}/analytics/csv?{query}")
    assert own.status == 200
    assert own.text().splitlines()[-1].startswith("total,0,0,")
