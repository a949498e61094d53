"""The console's Analytics page through HTTP (the app in-process, on SQLite and
PostgreSQL): the default range is the last 30 days in the restaurant's time zone,
the figures and their flags are the report's, the CSV is the API's CSV, a bad
range is refused in place, hosts get 403 and other restaurants' staff 404.
Clock: Monday 2026-06-01 09:00 UTC (11:00 in Madrid)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.analytics.export import to_csv
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.console.services import ConsoleServices
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from tests.conftest import ADMIN_TOKEN
from tests.support import FakeClock, demo_document

PASSWORD = "correct-horse-battery"
STAFF = Actor("staff", "ana", "dashboard")
DAY = date(2026, 5, 28)  # a Thursday, four days before the clock's today


@pytest.fixture
def site(settings: Settings, clock: FakeClock) -> Iterator[tuple[Container, object]]:
    container = build(
        settings.model_copy(update={"console_signin_per_minute": 1000}), clock=clock, migrate=False
    )
    apply_spec(container.engine, parse_document(demo_document()))
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otra")))
    yield container, create_app(container)
    container.close()


def _client(app: object) -> TestClient:
    return TestClient(  # type: ignore[arg-type]
        app, base_url="http://127.0.0.1", headers={"Accept-Language": "en-GB"}
    )


def _sign_in(client: TestClient, email: str) -> None:
    form = client.get("/console/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    answer = client.post(
        "/console/sign-in",
        data={"csrf": token.group(1), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def _seed(container: Container, clock: FakeClock) -> None:
    """On DAY at dinner: two seated visits (web, phone) and a no-show (whatsapp)."""
    today = clock.now
    clock.now = datetime(2026, 5, 28, 9, 0, tzinfo=UTC)
    start = datetime(2026, 5, 28, 18, 0, tzinfo=UTC)  # 20:00 in Madrid
    codes = [
        container.booking.create(
            CreateReservation(
                "demo", start, party, GuestDetails(name=f"G{n}", phone=f"+3460000010{n}"), source=s
            ),
            STAFF,
        ).reservation.code
        for n, (party, s) in enumerate([(2, "web"), (4, "phone"), (3, "whatsapp")])
    ]
    clock.now = start + timedelta(minutes=5)
    container.booking.check_in(codes[0], STAFF)
    container.booking.check_in(codes[1], STAFF)
    clock.now = start + timedelta(minutes=45)
    container.booking.no_show(codes[2], STAFF)
    clock.now = start + timedelta(hours=2)
    container.booking.complete(codes[0], STAFF)
    container.booking.complete(codes[1], STAFF)
    rid, _ = container.analytics.missing_days("demo", DAY, DAY)
    container.analytics.rebuild(rid, DAY - timedelta(days=1), DAY + timedelta(days=1))
    clock.now = today


def _chart_data(page: str) -> dict[str, object]:
    block = re.search(r'<script type="application/json" id="analytics-data">(.*?)</script>', page)
    assert block is not None
    return json.loads(block.group(1))  # type: ignore[no-any-return]


def test_a_manager_sees_the_last_30_days_with_flags_charts_and_the_apis_csv(
    site: tuple[Container, object], clock: FakeClock
) -> None:
    container, app = site
    services: ConsoleServices = app.state.console  # type: ignore[attr-defined]
    services.staff.add("demo", email="m@example.com", name="M", role="manager", password=PASSWORD)
    _seed(container, clock)
    with _client(app) as client:
        _sign_in(client, "m@example.com")
        page = client.get("/console/r/demo/analytics")
        assert page.status_code == 200
        text = html.unescape(page.text)
        # The last 30 days, ending today in Madrid.
        assert 'name="from" type="date" value="2026-05-03"' in text
        assert 'name="to" type="date" value="2026-06-01"' in text
        assert "Europe/Madrid" in text
        # 1 no-show of 3 expected guests: 33.3%, flagged (target below 10%).
        no_show = text.split('id="figure-no_show_rate"')[1].split("</li>")[0]
        assert "33.3%" in no_show
        assert "1 of 3" in no_show
        assert "Misses the target" in no_show
        assert "Target: below 10%" in no_show
        assert "Missing the target: No-show rate." in text
        success = text.split('id="figure-success_rate"')[1].split("</li>")[0]
        assert "100%" in success
        assert "Meets the target" in success
        bookings = text.split('id="figure-bookings"')[1].split("</li>")[0]
        assert ">3<" in bookings
        # The chart data block holds the day's bookings per channel.
        charts = _chart_data(page.text)["charts"]
        assert isinstance(charts, dict)
        by_channel = {d["label"]: d["data"] for d in charts["bookings"]["datasets"]}
        day_index = charts["bookings"]["labels"].index("28 May")
        assert {k: v[day_index] for k, v in by_channel.items()} == {
            "Phone": 1,
            "Web": 1,
            "WhatsApp": 1,
        }
        assert "default-src 'self'" in page.headers["content-security-policy"]

        # The CSV link: the same figures as the API's CSV for the same range.
        link = re.search(r'href="(/console/r/demo/analytics/csv\?[^"]+)"', page.text)
        assert link is not None
        csv = client.get(html.unescape(link.group(1)))
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv.headers["content-disposition"]
        api = client.get(
            "/v1/restaurants/demo/analytics",
            params={"from": "2026-05-03", "to": "2026-06-01", "group": "day", "format": "csv"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert api.status_code == 200
        assert csv.text == api.text
        assert csv.text == to_csv(
            container.analytics.report("demo", date(2026, 5, 3), date(2026, 6, 1), "day")
        )

        # Another range and grouping: a week without the visits counts nothing.
        week = client.get(
            "/console/r/demo/analytics", params={"from": "2026-05-18", "to": "2026-05-24"}
        )
        assert week.status_code == 200
        assert ">0<" in week.text.split('id="figure-bookings"')[1].split("</li>")[0]
        by_service = client.get(
            "/console/r/demo/analytics",
            params={"from": "2026-05-28", "to": "2026-05-28", "group": "service"},
        )
        assert by_service.status_code == 200
        assert '<th scope="row">Dinner</th>' in by_service.text


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-05-10", "to": "2026-05-01"},
        {"from": "2020-01-01", "to": "2026-05-01"},
        {"from": "yesterday"},
        {"group": "hour"},
    ],
)
def test_a_bad_range_is_refused_in_place(
    site: tuple[Container, object], query: dict[str, str]
) -> None:
    _, app = site
    services: ConsoleServices = app.state.console  # type: ignore[attr-defined]
    services.staff.add("demo", email="o@example.com", name="O", role="owner", password=PASSWORD)
    with _client(app) as client:
        _sign_in(client, "o@example.com")
        page = client.get("/console/r/demo/analytics", params=query)
        assert page.status_code == 422
        assert 'role="alert"' in page.text
        assert "analytics-data" not in page.text
        assert client.get("/console/r/demo/analytics/csv", params=query).status_code == 422


def test_hosts_get_403_and_other_restaurants_staff_404(site: tuple[Container, object]) -> None:
    _, app = site
    services: ConsoleServices = app.state.console  # type: ignore[attr-defined]
    services.staff.add("demo", email="h@example.com", name="H", role="host", password=PASSWORD)
    services.staff.add("other", email="b@example.com", name="B", role="owner", password=PASSWORD)
    with _client(app) as client:
        _sign_in(client, "h@example.com")
        assert client.get("/console/r/demo/analytics").status_code == 403
        assert client.get("/console/r/demo/analytics/csv").status_code == 403
        assert "/analytics" not in client.get("/console/r/demo").text
    with _client(app) as client:
        _sign_in(client, "b@example.com")
        assert client.get("/console/r/other/analytics").status_code == 200
        for path in ("/console/r/demo/analytics", "/console/r/demo/analytics/csv"):
            refused = client.get(path)
            assert refused.status_code == 404
            assert "Casa" not in refused.text
            assert "text/csv" not in refused.headers["content-type"]
