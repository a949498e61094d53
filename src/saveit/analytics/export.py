"""A report as flat rows: the CSV export and the terminal table share them."""

from __future__ import annotations

import csv
import io

from saveit.analytics.report import Figures, Rate, Report

COLUMNS: tuple[str, ...] = (
    "key",
    "bookings",
    "covers",
    "success_rate",
    "conversion",
    "no_show_rate",
    "cancellation_rate",
    "occupancy",
    "bot_reply_p50_s",
    "bot_reply_p95_s",
    "bot_reply_avg_s",
    "handoff_rate",
    "misunderstood_rate",
    "satisfaction_avg",
    "survey_response_rate",
    "returning_covers_share",
    "missed_targets",
)


def _rate(rate: Rate) -> str:
    return "" if rate.value is None else f"{rate.value:.4f}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def row(key: str, f: Figures) -> list[str]:
    return [
        key,
        str(f.bookings),
        str(f.covers),
        _rate(f.success_rate),
        _rate(f.conversion),
        _rate(f.no_show_rate),
        _rate(f.cancellation_rate),
        _rate(f.occupancy),
        _number(f.bot.p50_s),
        _number(f.bot.p95_s),
        _number(f.bot.average_s),
        _rate(f.bot.handoff_rate),
        _rate(f.bot.misunderstood_rate),
        _number(f.satisfaction.average),
        _rate(f.satisfaction.response_rate),
        _rate(f.returning_covers_share),
        " ".join(f.missed_targets),
    ]


def rows(report: Report) -> list[list[str]]:
    """One row per group, then the total."""
    found = [row(g.key, g.figures) for g in report.groups]
    found.append(row("total", report.total))
    return found


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(report))
    return out.getvalue()
