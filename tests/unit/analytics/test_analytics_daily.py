"""The pure parts of the analytics: hour cells across DST, buckets, percentiles,
the survey's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from saveit.analytics import survey_texts
from saveit.analytics.daily import hour_cells, lead_bucket, notice_bucket, origin_of, reply_seconds
from saveit.analytics.report import figures, iso_week

MADRID = ZoneInfo("Europe/Madrid")


def test_a_stay_splits_into_local_hours_even_on_the_night_the_clocks_go_back() -> None:
    start = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST, before the change
    cells = list(hour_cells(start, start + timedelta(hours=3), MADRID))
    # 01:30-02:00, 02:00-03:00 CEST, 02:00-03:00 CET again, 03:00-03:30 CET: 3 real hours.
    assert cells == [("6:01", 30), ("6:02", 60), ("6:02", 60), ("6:03", 30)]
    assert sum(minutes for _, minutes in cells) == 180


def test_buckets() -> None:
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert lead_bucket(at, at + timedelta(minutes=59)) == "<1h"
    assert lead_bucket(at, at + timedelta(hours=6)) == "6-24h"
    assert lead_bucket(at, at + timedelta(days=40)) == "30d+"
    assert notice_bucket(at, at - timedelta(minutes=1)) == "after_start"
    assert notice_bucket(at, at + timedelta(days=5)) == "3d+"
    assert reply_seconds(at, at + timedelta(milliseconds=1001)) == 2
    assert reply_seconds(at, at + timedelta(days=1)) == 3600
    assert origin_of("walk_in", "staff:ana") == "walk_in"
    assert origin_of("web", "guest:web") == "guest"
    assert origin_of("phone", "staff:ana") == "staff"


def test_percentiles_and_targets_of_summed_counters() -> None:
    rows = [("reply", "", "sms", str(s), 1) for s in (1, 2, 3, 4, 12)]
    rows += [("reply_ms", "", "sms", "", 22000), ("rating", "", "sms", "5", 3)]
    rows += [("surveys", "", "sms", "answered", 3), ("surveys", "", "sms", "sent", 1)]
    found = figures(rows)
    assert (found.bot.p50_s, found.bot.p95_s, found.bot.average_s) == (3.0, 12.0, 4.4)
    assert found.satisfaction.average == 5.0
    assert not found.satisfaction.misses_target
    assert found.satisfaction.response_rate.value == 0.75
    assert found.success_rate.value is None  # nothing attempted: no figure, no flag
    assert found.missed_targets == []


def test_iso_weeks_cross_the_year() -> None:
    assert iso_week(datetime(2026, 12, 31).date()) == "2026-W53"
    assert iso_week(datetime(2027, 1, 4).date()) == "2027-W01"


@pytest.mark.parametrize(
    ("said", "rating", "comment"),
    [
        ("4", 4, ""),
        ("5 de 5, todo perfecto", 5, "todo perfecto"),
        ("2/5 frío", 2, "frío"),
        ("3 stars", 3, ""),
    ],
)
def test_ratings_typed(said: str, rating: int, comment: str) -> None:
    assert survey_texts.rating_of(said) == (rating, comment)


@pytest.mark.parametrize("said", ["mesa para 4", "6", "10 personas", "hola", "2:30", "1.5"])
def test_not_ratings(said: str) -> None:
    assert survey_texts.rating_of(said) is None


@pytest.mark.parametrize(
    "said", ["STOP", "No más encuestas", "no mas encuestas!", "no more surveys"]
)
def test_opt_out_words(said: str) -> None:
    assert survey_texts.is_stop(said)
    assert not survey_texts.is_stop("stop the booking please")
