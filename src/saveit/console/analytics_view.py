"""What the Analytics page shows of a report (:class:`saveit.analytics.report.Report`):
the figure cards with their targets, the charts' data and the tables that say the
same in text, the occupancy heatmap, and the grouped table.

Nothing is computed here that the report does not hold: values are formatted in
the person's language, and a figure is flagged exactly when the report flags it
(``misses_target``), so the page, the API and ``saveit report`` never disagree.
Each chart is a plain structure that ``static/analytics.js`` hands to Chart.js,
from a ``<script type="application/json">`` block (data, not a script: the CSP's
``script-src 'self'`` is not asked to run it), and the same numbers go into a
table beside it for anyone who cannot see the canvas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from babel import Locale
from babel.dates import format_date, get_day_names
from babel.numbers import format_decimal, format_percent

from saveit.analytics import export
from saveit.analytics.report import GroupFigures, Rate, Report

Translate = Callable[..., str]
_RATES = frozenset(
    {c for c in export.COLUMNS if c.endswith("_rate") or c.endswith("_share")}
    | {"conversion", "occupancy"}
)
HEAT_LEVELS = 6  # heat-0 (empty) to heat-5 (full), in static/analytics.css


@dataclass(frozen=True, slots=True)
class Card:
    key: str  # analytics.fig.<key>
    definition: str  # analytics.def.<definition>
    value: str  # formatted; "" when nothing was counted
    detail: str = ""
    target: str | None = None  # analytics.target.<target>, for a figure with one
    misses: bool = False


@dataclass(frozen=True, slots=True)
class Chart:
    key: str  # the canvas's data-chart, and analytics.chart.<key>
    columns: list[str]
    rows: list[list[str]]
    spec: dict[str, Any] = field(default_factory=dict)  # for analytics.js


@dataclass(frozen=True, slots=True)
class Heatmap:
    hours: list[str]
    rows: list[tuple[str, list[tuple[str, str]]]]  # weekday, [(text, css class)]


class View:
    def __init__(self, lang: str, t: Translate) -> None:
        self.lang = lang
        self.t = t
        # The language's own percent pattern ("33 %" in Spanish), to one decimal.
        pattern = Locale.parse(lang).percent_formats[None].pattern
        self._percent_pattern = pattern.replace("0", "0.#", 1) if "." not in pattern else pattern

    # --- formatting ----------------------------------------------------------------------

    def percent(self, value: float | None) -> str:
        if value is None:
            return ""
        return str(format_percent(value, format=self._percent_pattern, locale=self.lang))

    def number(self, value: float | None) -> str:
        return "" if value is None else str(format_decimal(value, locale=self.lang))

    def label(self, kind: str, value: str) -> str:
        """A channel's or service's name in the person's language (else as stored)."""
        key = f"analytics.{kind}.{value}"
        found = self.t(key)
        return value if found == key else found

    def day(self, value: date) -> str:
        return str(format_date(value, format="medium", locale=self.lang))

    def period(self, key: str) -> str:
        """A group's key: a day shortened ("3 May"), an ISO week as it is."""
        try:
            return str(format_date(date.fromisoformat(key), format="d MMM", locale=self.lang))
        except ValueError:
            return key

    def _of(self, rate: Rate) -> str:
        if not rate.denominator:
            return ""
        return self.t("analytics.of", numerator=rate.numerator, denominator=rate.denominator)

    # --- the figures ---------------------------------------------------------------------

    def _rate_card(
        self, key: str, rate: Rate, definition: str | None = None, *, targeted: bool = False
    ) -> Card:
        return Card(
            key,
            definition or key,
            self.percent(rate.value),
            self._of(rate),
            key if targeted else None,
            rate.misses_target,
        )

    def targets(self, report: Report) -> list[Card]:
        f = report.total
        s, bot = f.satisfaction, f.bot
        average = None if s.average is None else self.number(s.average)
        return [
            self._rate_card("success_rate", f.success_rate, targeted=True),
            self._rate_card("conversion", f.conversion, targeted=True),
            self._rate_card("no_show_rate", f.no_show_rate, targeted=True),
            Card(
                "satisfaction",
                "satisfaction",
                "" if average is None else self.t("analytics.satisfaction_value", average=average),
                self.t("analytics.answers", count=s.answers) if s.answers else "",
                "satisfaction",
                s.misses_target,
            ),
            Card(
                "bot_reply",
                "bot_reply",
                ""
                if bot.average_s is None
                else self.t("analytics.seconds", seconds=self.number(bot.average_s)),
                ""
                if not bot.replies
                else self.t(
                    "analytics.percentiles",
                    p50=self.number(bot.p50_s),
                    p95=self.number(bot.p95_s),
                    count=bot.replies,
                ),
                "bot_reply",
                bot.misses_target,
            ),
        ]

    def others(self, report: Report) -> list[Card]:
        f = report.total
        return [
            Card("bookings", "bookings", self.number(f.bookings), self.t("analytics.walk_ins")),
            Card("covers", "covers", self.number(f.covers)),
            self._rate_card("cancellation_rate", f.cancellation_rate),
            self._rate_card("occupancy", f.occupancy),
            self._rate_card("handoff_rate", f.bot.handoff_rate),
            self._rate_card("misunderstood_rate", f.bot.misunderstood_rate),
            self._rate_card("response_rate", f.satisfaction.response_rate, "satisfaction"),
            Card(
                "returning",
                "returning",
                self.percent(f.returning_covers_share.value),
                self.t("analytics.returning_bookings", count=f.returning_bookings),
            ),
        ]

    def missed(self, report: Report) -> list[str]:
        return [self.t(f"analytics.fig.{name}") for name in report.total.missed_targets]

    # --- the charts ----------------------------------------------------------------------

    def charts(self, report: Report, series: Sequence[GroupFigures]) -> list[Chart]:
        """``series``: the range's days (or weeks), whatever the table is grouped by."""
        labels = [self.period(g.key) for g in series]
        channels = sorted({c for g in series for c in g.figures.by_channel})
        found = [self._by_channel(key, labels, channels, series) for key in ("bookings", "covers")]
        found.append(self._conversion(report))
        rates = {
            self.t("analytics.fig.no_show_rate"): [g.figures.no_show_rate for g in series],
            self.t("analytics.fig.cancellation_rate"): [
                g.figures.cancellation_rate for g in series
            ],
        }
        found.append(
            Chart(
                "rates",
                [self.t("analytics.when"), *rates],
                [
                    [label, *(self.percent(r[i].value) for r in rates.values())]
                    for i, label in enumerate(labels)
                ],
                _spec(
                    "line",
                    labels,
                    {name: [_pct(r.value) for r in values] for name, values in rates.items()},
                    percent=True,
                ),
            )
        )
        averages = [g.figures.satisfaction.average for g in series]
        answers = [g.figures.satisfaction.answers for g in series]
        found.append(
            Chart(
                "satisfaction",
                [self.t("analytics.when"), self.t("analytics.average"), self.t("analytics.count")],
                [
                    [label, self.number(averages[i]), str(answers[i])]
                    for i, label in enumerate(labels)
                    if answers[i]
                ],
                _spec("line", labels, {self.t("analytics.average"): averages}, top=5),
            )
        )
        distribution = report.total.satisfaction.distribution
        found.append(
            Chart(
                "ratings",
                [self.t("analytics.rating"), self.t("analytics.count")],
                [[stars, str(count)] for stars, count in distribution.items()],
                _spec(
                    "bar",
                    list(distribution),
                    {self.t("analytics.count"): list(distribution.values())},
                    whole=True,
                ),
            )
        )
        return found

    def _by_channel(
        self,
        key: str,
        labels: list[str],
        channels: list[str],
        series: Sequence[GroupFigures],
    ) -> Chart:
        def count(g: GroupFigures, channel: str) -> int:
            split = g.figures.by_channel.get(channel)
            return 0 if split is None else getattr(split, key)

        names = [self.label("channel", c) for c in channels]
        return Chart(
            key,
            [self.t("analytics.when"), *names, self.t("analytics.total")],
            [
                [label, *(str(count(g, c)) for c in channels), str(getattr(g.figures, key))]
                for label, g in zip(labels, series, strict=True)
            ],
            _spec(
                "bar",
                labels,
                {
                    name: [count(g, c) for g in series]
                    for name, c in zip(names, channels, strict=True)
                },
                stacked=True,
                whole=True,
            ),
        )

    def _conversion(self, report: Report) -> Chart:
        by = report.total.conversion_by_channel
        names = [self.label("channel", c) for c in by]
        return Chart(
            "conversion",
            [
                self.t("analytics.channel"),
                self.t("analytics.inquiries"),
                self.t("analytics.converted"),
                self.t("analytics.rate"),
            ],
            [
                [name, str(r.denominator), str(r.numerator), self.percent(r.value)]
                for name, r in zip(names, by.values(), strict=True)
            ],
            _spec(
                "bar",
                names,
                {self.t("analytics.fig.conversion"): [_pct(r.value) for r in by.values()]},
                percent=True,
            ),
        )

    # --- occupancy -----------------------------------------------------------------------

    def heatmap(self, report: Report) -> Heatmap:
        cells: dict[tuple[int, int], Rate] = {}
        for key, rate in report.heatmap.items():
            day_of_week, hour_of_day = key.split(":")
            cells[(int(day_of_week), int(hour_of_day))] = rate
        hours = sorted({h for _, h in cells})
        names = get_day_names("wide", locale=self.lang)
        rows = []
        for weekday in sorted({w for w, _ in cells}):
            row = []
            for hour in hours:
                cell = cells.get((weekday, hour))
                if cell is None or cell.value is None:
                    row.append((self.t("analytics.none"), "heat-none"))
                else:
                    row.append((self.percent(cell.value), f"heat-{_level(cell.value)}"))
            rows.append((str(names[weekday]), row))
        return Heatmap([f"{h:02d}:00" for h in hours], rows)

    def services(self, report: Report) -> list[tuple[str, str, str]]:
        return [
            (self.label("service", name), self.percent(rate.value), self._of(rate))
            for name, rate in report.total.occupancy_by_service.items()
        ]

    def comments(self, report: Report) -> list[tuple[str, str]]:
        return [
            (
                self.t(
                    "analytics.comment_meta",
                    rating=c.rating,
                    channel=self.label("channel", c.channel),
                    day=self.day(c.day),
                ),
                c.comment,
            )
            for c in report.latest_comments
        ]

    # --- the grouped table: the CSV's rows, formatted ------------------------------------

    def table(self, report: Report) -> tuple[list[str], list[list[str]]]:
        columns = [self.t(f"analytics.col.{c}") for c in export.COLUMNS]
        kind = {"service": "service", "channel": "channel"}.get(report.group)
        rows = []
        for raw in export.rows(report):
            shown = []
            for column, value in zip(export.COLUMNS, raw, strict=True):
                if column == "key":
                    if value == "total":
                        value = self.t("analytics.total")
                    elif kind is not None:
                        value = self.label(kind, value)
                elif column == "missed_targets":
                    value = ", ".join(self.t(f"analytics.fig.{n}") for n in value.split())
                elif value and column in _RATES:
                    value = self.percent(float(value))
                elif value and column != "key":
                    value = self.number(float(value))
                shown.append(value)
            rows.append(shown)
        return columns, rows


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def _level(value: float) -> int:
    if value <= 0:
        return 0
    return min(HEAT_LEVELS - 1, 1 + int(value * (HEAT_LEVELS - 1)))


def _spec(
    kind: str,
    labels: list[str],
    datasets: dict[str, list[Any]],
    *,
    stacked: bool = False,
    percent: bool = False,
    whole: bool = False,
    top: float | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "labels": labels,
        "datasets": [{"label": name, "data": data} for name, data in datasets.items()],
        "stacked": stacked,
        "percent": percent,
        "whole": whole,
        "top": 100 if percent and top is None else top,
    }
