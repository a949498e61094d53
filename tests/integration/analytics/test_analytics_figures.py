"""Every figure of the hand-built fortnight (tests/integration/analytics_fixture.py),
worked out by hand; and one restaurant never sees another's."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.analytics.service import Analytics
from saveit.api.app import create_app
from saveit.bootstrap import Container
from tests.conftest import ADMIN_TOKEN
from tests.integration.analytics.analytics_fixture import build_fortnight
from tests.support import demo_document

FIRST, LAST = date(2026, 10, 19), date(2026, 11, 1)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def fortnight(container: Container, demo: str) -> Analytics:
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otro")))
    with container.engine.begin() as conn:
        demo_id = build_fortnight(conn, "demo")
        other_id = build_fortnight(conn, "other")
    assert container.analytics is not None
    container.analytics.rebuild(demo_id)
    container.analytics.rebuild(other_id)
    return container.analytics


def test_every_figure_of_the_fortnight(fortnight: Analytics) -> None:
    found = fortnight.report("demo", FIRST, LAST)
    t = found.total
    assert found.timezone == "Europe/Madrid"
    # Six bookings start in the range (the waitlist hold is nobody's booking).
    assert t.bookings == 6
    assert t.covers == 2 + 4 + 3 + 2 + 6  # the cancelled party of 2 left out
    assert {k: (v.bookings, v.covers) for k, v in t.by_channel.items()} == {
        "phone": (1, 0),
        "walk_in": (1, 3),
        "web": (2, 10),
        "whatsapp": (2, 4),
    }
    assert {k: (v.bookings, v.covers) for k, v in t.by_source.items()} == {
        "guest": (4, 14),
        "staff": (1, 0),
        "walk_in": (1, 3),
    }
    # Lead times: 2 days, 5 hours, 9 days 9 hours, 7 days 8 hours (across the DST
    # change), 1 day; the walk-in has none.
    assert t.lead_time == {
        "<1h": 0,
        "1-6h": 1,
        "6-24h": 0,
        "1-3d": 2,
        "3-7d": 0,
        "7-30d": 2,
        "30d+": 0,
    }
    # Attempts made in the range: three bookings (R2, R5, R6) and two refusals.
    assert (t.success_rate.numerator, t.success_rate.denominator) == (3, 5)
    assert t.success_rate.value == 0.6
    assert t.success_rate.misses_target
    # Inquiries: Ana 24 Oct (booked 10 min later), Ben 19 Oct (booked an hour
    # later), Ben 21 Oct (nothing within a day), Carla 26 Oct, Ben 30 Oct (booked).
    assert (t.conversion.numerator, t.conversion.denominator) == (3, 5)
    assert t.conversion.misses_target  # 60% is not more than 60%
    assert {k: (v.numerator, v.denominator) for k, v in t.conversion_by_channel.items()} == {
        "sms": (0, 1),
        "webchat": (2, 3),
        "whatsapp": (1, 1),
    }
    # One no-show against three seated bookings (the walk-in is no booking to miss).
    assert (t.no_show_rate.numerator, t.no_show_rate.denominator) == (1, 4)
    assert t.no_show_rate.misses_target
    assert (t.cancellation_rate.numerator, t.cancellation_rate.denominator) == (1, 5)
    assert t.cancellation_notice == {
        "after_start": 0,
        "<2h": 1,
        "2-24h": 0,
        "1-3d": 0,
        "3d+": 0,
    }
    # Seated table-minutes: 90 + 120 + 90 + 150 x 2 tables; offered: 14 days x
    # (180 + 210 minutes) x 7 tables, the DST Sunday's lunch as long as any.
    assert (t.occupancy.numerator, t.occupancy.denominator) == (600, 14 * 390 * 7)
    assert {k: (v.numerator, v.denominator) for k, v in t.occupancy_by_service.items()} == {
        "dinner": (90, 14 * 210 * 7),
        "lunch": (510, 14 * 180 * 7),
    }
    heat = found.heatmap
    assert (heat["6:13"].numerator, heat["6:13"].denominator) == (30, 2 * 60 * 7)  # walk-in
    assert (heat["6:14"].numerator, heat["6:14"].denominator) == (60, 2 * 60 * 7)
    assert (heat["5:13"].numerator, heat["5:13"].denominator) == (120, 2 * 60 * 7)  # 2 tables
    assert heat["0:20"].numerator == 0  # the no-show sat nowhere
    assert "6:12" not in heat
    assert "6:02" not in heat
    # Bot replies of 3, 2, 1, 12 and 4 seconds (Carla's went to staff).
    assert t.bot.replies == 5
    assert (t.bot.p50_s, t.bot.p95_s, t.bot.average_s) == (3.0, 12.0, 4.4)
    assert not t.bot.misses_target
    assert (t.bot.handoff_rate.numerator, t.bot.handoff_rate.denominator) == (1, 5)
    assert (t.bot.misunderstood_rate.numerator, t.bot.misunderstood_rate.denominator) == (1, 6)
    # Surveys: 5 and 2; Ben's unanswered; the walk-in had nobody to ask.
    s = t.satisfaction
    assert s.average == 3.5
    assert s.misses_target
    assert s.answers == 2
    assert s.distribution == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert (s.response_rate.numerator, s.response_rate.denominator) == (2, 3)
    assert [c.comment for c in found.latest_comments] == ["Frío", "Todo perfecto"]
    # Ana's second visit follows a seated one.
    assert t.returning_bookings == 1
    assert (t.returning_covers_share.numerator, t.returning_covers_share.denominator) == (2, 17)
    assert set(t.missed_targets) == {"success_rate", "conversion", "no_show_rate", "satisfaction"}


def test_the_figures_per_week_service_channel_and_day(fortnight: Analytics) -> None:
    weeks = {g.key: g.figures for g in fortnight.report("demo", FIRST, LAST, "week").groups}
    assert {k: f.bookings for k, f in weeks.items()} == {"2026-W43": 4, "2026-W44": 2}
    assert weeks["2026-W44"].satisfaction.average == 2.0
    services = {g.key: g.figures for g in fortnight.report("demo", FIRST, LAST, "service").groups}
    assert {k: f.bookings for k, f in services.items()} == {"dinner": 3, "lunch": 3}
    assert services["lunch"].occupancy.numerator == 510
    channels = {g.key: g.figures for g in fortnight.report("demo", FIRST, LAST, "channel").groups}
    assert channels["whatsapp"].bookings == 2
    assert channels["webchat"].conversion.numerator == 2
    days = {g.key: g.figures for g in fortnight.report("demo", FIRST, LAST, "day").groups}
    assert days["2026-10-31"].bookings == 2
    assert days["2026-10-25"].bookings == 1
    one_day = fortnight.report("demo", date(2026, 10, 31), date(2026, 10, 31))
    assert one_day.total.bookings == 2
    assert one_day.total.covers == 8


def test_restaurants_never_see_each_others_figures(container: Container, demo: str) -> None:
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otro")))
    with container.engine.begin() as conn:
        demo_id = build_fortnight(conn, "demo")
    assert container.analytics is not None
    container.analytics.rebuild(demo_id)
    empty = container.analytics.report("other", FIRST, LAST)
    assert empty.total.bookings == 0
    assert empty.total.bot.replies == 0
    assert empty.latest_comments == []
    assert empty.total.satisfaction.answers == 0
    with TestClient(create_app(container)) as api:
        tokens = {}
        for slug in ("demo", "other"):
            made = api.post(
                f"/v1/restaurants/{slug}/tokens",
                json={"role": "manager", "name": "m"},
                headers=ADMIN,
            )
            tokens[slug] = {"Authorization": f"Bearer {made.json()['token']}"}
        query = "?from=2026-10-19&to=2026-11-01"
        mine = api.get(f"/v1/restaurants/demo/analytics{query}", headers=tokens["demo"])
        assert mine.status_code == 200, mine.text
        assert mine.json()["total"]["bookings"] == 6
        assert mine.json()["from"] == "2026-10-19"
        theirs = api.get(f"/v1/restaurants/demo/analytics{query}", headers=tokens["other"])
        assert theirs.status_code in (403, 404)
        own = api.get(f"/v1/restaurants/other/analytics{query}", headers=tokens["other"])
        assert own.json()["total"]["bookings"] == 0
        host = api.post(
            "/v1/restaurants/demo/tokens", json={"role": "host", "name": "h"}, headers=ADMIN
        ).json()["token"]
        refused = api.get(
            f"/v1/restaurants/demo/analytics{query}", headers={"Authorization": f"Bearer {host}"}
        )
        assert refused.status_code == 403
        as_csv = api.get(
            f"/v1/restaurants/demo/analytics{query}&group=week",
            headers={**tokens["demo"], "Accept": "text/csv"},
        )
        assert as_csv.headers["content-type"].startswith("text/csv")
        lines = as_csv.text.splitlines()
        assert lines[0].startswith("key,bookings,covers,success_rate")
        assert [line.split(",")[:3] for line in lines[1:]] == [
            ["2026-W43", "4", "9"],
            ["2026-W44", "2", "8"],
            ["total", "6", "17"],
        ]
        assert (
            api.get(
                f"/v1/restaurants/demo/analytics{query}&format=csv", headers=tokens["demo"]
            ).text
            == api.get(
                f"/v1/restaurants/demo/analytics{query}",
                headers={**tokens["demo"], "Accept": "text/csv"},
            ).text
        )
        backwards = api.get(
            "/v1/restaurants/demo/analytics?from=2026-11-01&to=2026-10-01", headers=tokens["demo"]
        )
        assert backwards.status_code == 422
