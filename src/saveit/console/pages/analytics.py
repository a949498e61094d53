"""The Analytics page (managers, owners): the restaurant's figures over a range of
its local days — by default the last 30, ending today in its time zone — with
their definitions, a flag on each that misses the brief's target, charts, the
occupancy heatmap, the latest comments and a table grouped by day, week,
service or channel.

Everything comes from :class:`saveit.analytics.service.Analytics`, the service
behind ``GET /v1/restaurants/{slug}/analytics``; the CSV link
(``…/analytics/csv``) returns what that endpoint's CSV does, through the same
service and :func:`saveit.analytics.export.to_csv`, on the console's session.
The range is a plain GET form, so the page works and can be bookmarked
without JavaScript; the charts are drawn by ``static/analytics.js``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response

from saveit.analytics.export import to_csv
from saveit.analytics.report import Group, Report
from saveit.console import i18n, messages_analytics, nav  # noqa: F401 (the page's messages)
from saveit.console.analytics_view import View
from saveit.console.render import render
from saveit.console.session import AtRestaurant, ManagerAt, PageError, services_of
from saveit.domain import errors

router = APIRouter(prefix="/console/r/{slug}/analytics", include_in_schema=False)

nav.register(nav.NavEntry("analytics", "analytics.nav", "analytics", "manager", 70))

GROUPS: tuple[Group, ...] = ("day", "week", "service", "channel")
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Asked:
    """The form as entered (shown back as typed), and what it means when valid."""

    entered: dict[str, str]
    first: date | None
    last: date | None
    group: Group | None

    def query(self) -> str:
        return f"from={self.first}&to={self.last}&group={self.group}"


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _asked(request: Request, at: AtRestaurant) -> Asked:
    q = request.query_params
    raw_from, raw_to = q.get("from", "").strip(), q.get("to", "").strip()
    raw_group = q.get("group", "").strip() or "day"
    last = _day(raw_to) if raw_to else services_of(request).analytics.today(at.slug)
    first: date | None = None
    if raw_from:
        first = _day(raw_from)
    elif last is not None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    group = next((g for g in GROUPS if g == raw_group), None)
    entered = {
        "from": raw_from or (first.isoformat() if first else ""),
        "to": raw_to or (last.isoformat() if last else ""),
        "group": raw_group,
    }
    return Asked(entered, first, last, group)


def _reports(request: Request, at: AtRestaurant, asked: Asked) -> tuple[Report, Report] | None:
    """The report grouped as asked, and one by day (or week) for the charts."""
    first, last, group = asked.first, asked.last, asked.group
    if first is None or last is None or group is None:
        return None
    analytics = services_of(request).analytics
    try:
        found = analytics.report(at.slug, first, last, group)
    except errors.ValidationFailed:
        return None
    if group in ("day", "week"):
        return found, found
    return found, analytics.report(at.slug, first, last, "day")


@router.get("")
def analytics_page(request: Request, at: ManagerAt) -> Response:
    asked = _asked(request, at)
    reports = _reports(request, at, asked)
    lang = at.visit.lang
    values: dict[str, Any] = {"asked": asked, "groups": GROUPS, "report": None}
    if reports is not None:
        report, series = reports
        view = View(lang, partial(i18n.translate, lang))
        charts = view.charts(report, series.groups)
        columns, rows = view.table(report)
        values.update(
            report=report,
            period=(view.day(report.from_), view.day(report.to)),
            csv_url=f"/console/r/{at.slug}/analytics/csv?{asked.query()}",
            targets=view.targets(report),
            others=view.others(report),
            missed=view.missed(report),
            charts=charts,
            chart_data={"lang": lang, "charts": {c.key: c.spec for c in charts}},
            heatmap=view.heatmap(report),
            services=view.services(report),
            comments=view.comments(report),
            columns=columns,
            rows=rows,
        )
    return render(
        "analytics/page.html",
        lang=lang,
        csrf=at.visit.csrf,
        at=at,
        current="analytics",
        status=200 if reports is not None else 422,
        **values,
    )


@router.get("/csv")
def analytics_csv(request: Request, at: ManagerAt) -> Response:
    asked = _asked(request, at)
    reports = _reports(request, at, asked)
    if reports is None:
        raise PageError(422, "analytics.bad_range")
    name = f"{at.slug}-analytics-{asked.first}-{asked.last}-{asked.group}.csv"
    return Response(
        to_csv(reports[0]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
