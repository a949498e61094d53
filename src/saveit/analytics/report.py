"""The figures, computed from summed counters, with their definitions and the
brief's targets: the one shape the API, the CLI and the CSV export share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from saveit.analytics.daily import LEAD_BUCKETS, LEAD_LAST, NOTICE_BUCKETS, NOTICE_LAST

Row = tuple[str, str, str, str, int]  # metric, service, channel, detail, value
Group = Literal["total", "day", "week", "service", "channel"]

DEFINITIONS: dict[str, str] = {
    "bookings": "Bookings (not waitlist holds) whose start falls on the range's service days, "
    "whatever became of them, walk-ins included.",
    "covers": "Guests (party sizes) of those bookings, cancelled ones left out.",
    "by_channel": "Bookings and covers by the channel the booking came from (its source).",
    "by_source": "Bookings and covers by who made them: the guest (web, chat), staff for "
    "them, or a walk-in.",
    "lead_time": "Bookings (walk-ins left out) by the time between making the booking and "
    "its start (in the total only, not per service or channel).",
    "success_rate": "Booking attempts made on the range's days that ended in a booking, over "
    "all attempts: bookings made (walk-ins left out) plus attempts the engine refused "
    "(SLOT_TAKEN, a rule). Target > 95%.",
    "conversion": "Inquiries that led to a booking by the same guest within 24 hours, over "
    "inquiries. An inquiry is a guest's message after at least 24 hours without one (or "
    "their first), counted on the day and channel it arrived. Target > 60%.",
    "no_show_rate": "No-shows over bookings whose guest was expected and whose outcome is "
    "known (seated or no-show; walk-ins left out). Target < 10%.",
    "cancellation_rate": "Cancelled bookings over bookings (walk-ins left out).",
    "cancellation_notice": "Cancellations by how long before the start they came "
    "(after_start: later than the start).",
    "occupancy": "Table-minutes of seated stays (checked in or completed, start to end, "
    "times the tables used) over the table-minutes the services offer (opening to last "
    "start, times the active tables).",
    "heatmap": "Occupancy per local weekday (Monday = 0) and hour, 'weekday:hour'.",
    "bot_reply": "Time from a guest's message being stored to the bot's first reply after "
    "it being sent, in seconds (percentiles rounded up to the second). Target: average "
    "< 5 s.",
    "handoff_rate": "Conversations handed to staff (by the bot, staff or a low survey "
    "rating) over inquiries.",
    "misunderstood_rate": "Guests' messages the bot did not understand over guests' messages.",
    "satisfaction": "Average survey rating (1-5) of the range's visits; distribution; "
    "response rate: answered over surveys sent. Target > 4.5.",
    "returning": "Bookings (not cancelled) of guests who had a seated visit before, and "
    "their share of covers.",
}


class Rate(BaseModel):
    value: float | None = Field(description="numerator / denominator; null when nothing counted")
    numerator: int
    denominator: int
    target: str | None = Field(None, description="the brief's target, when it sets one")
    misses_target: bool = Field(False, description="true when the value misses the target")


class Split(BaseModel):
    bookings: int
    covers: int


class Satisfaction(BaseModel):
    average: float | None = Field(description=DEFINITIONS["satisfaction"])
    target: str = "> 4.5"
    misses_target: bool = False
    answers: int
    distribution: dict[str, int]
    response_rate: Rate


class BotFigures(BaseModel):
    replies: int
    p50_s: float | None
    p95_s: float | None
    average_s: float | None = Field(description=DEFINITIONS["bot_reply"])
    target: str = "average < 5 s"
    misses_target: bool = False
    handoff_rate: Rate = Field(description=DEFINITIONS["handoff_rate"])
    misunderstood_rate: Rate = Field(description=DEFINITIONS["misunderstood_rate"])


class Figures(BaseModel):
    bookings: int = Field(description=DEFINITIONS["bookings"])
    covers: int = Field(description=DEFINITIONS["covers"])
    by_channel: dict[str, Split] = Field(description=DEFINITIONS["by_channel"])
    by_source: dict[str, Split] = Field(description=DEFINITIONS["by_source"])
    lead_time: dict[str, int] = Field(description=DEFINITIONS["lead_time"])
    success_rate: Rate = Field(description=DEFINITIONS["success_rate"])
    conversion: Rate = Field(description=DEFINITIONS["conversion"])
    conversion_by_channel: dict[str, Rate] = Field(description=DEFINITIONS["conversion"])
    no_show_rate: Rate = Field(description=DEFINITIONS["no_show_rate"])
    cancellation_rate: Rate = Field(description=DEFINITIONS["cancellation_rate"])
    cancellation_notice: dict[str, int] = Field(description=DEFINITIONS["cancellation_notice"])
    occupancy: Rate = Field(description=DEFINITIONS["occupancy"])
    occupancy_by_service: dict[str, Rate] = Field(description=DEFINITIONS["occupancy"])
    bot: BotFigures
    satisfaction: Satisfaction
    returning_bookings: int = Field(description=DEFINITIONS["returning"])
    returning_covers_share: Rate = Field(description=DEFINITIONS["returning"])
    missed_targets: list[str] = Field(description="the figures that miss the brief's target")


class Comment(BaseModel):
    day: date
    rating: int
    channel: str
    comment: str


class GroupFigures(BaseModel):
    key: str = Field(description="the day, the ISO week (2026-W49), the service or the channel")
    figures: Figures


class Report(BaseModel):
    restaurant: str
    timezone: str
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    group: Group
    total: Figures
    heatmap: dict[str, Rate] = Field(description=DEFINITIONS["heatmap"])
    latest_comments: list[Comment]
    groups: list[GroupFigures]
    definitions: dict[str, str]

    model_config = {"populate_by_name": True}


def _rate(
    num: int,
    den: int,
    target: str | None = None,
    *,
    above: float | None = None,
    below: float | None = None,
) -> dict[str, Any]:
    value = round(num / den, 4) if den else None
    misses = False
    if value is not None and above is not None:
        misses = not value > above
    if value is not None and below is not None:
        misses = not value < below
    return {  # a dict: a report's figures are validated at once, in pydantic's core
        "value": value,
        "numerator": num,
        "denominator": den,
        "target": target,
        "misses_target": misses,
    }


def _percentile(histogram: dict[int, int], share: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    needed = share * total
    running = 0
    for seconds in sorted(histogram):
        running += histogram[seconds]
        if running >= needed:
            return float(seconds)
    return float(max(histogram))


def figures(rows: Iterable[Row]) -> Figures:
    """The figures of the counters ``rows`` (already summed over the group's days)."""
    t: dict[str, int] = defaultdict(int)  # metric totals
    by: dict[tuple[str, str], int] = defaultdict(int)  # (metric, dimension value)
    channel_split: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    source_split: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    replies: dict[int, int] = defaultdict(int)
    for metric, service, channel, detail, value in rows:
        t[metric] += value
        if metric in ("bookings", "covers"):
            channel_split[channel][metric] += value
            source_split[detail][metric] += value
            if detail != "walk_in":
                t[f"{metric}_booked"] += value
        elif metric == "attempts" and detail == "booked":
            t["attempts_booked"] += value
        elif metric == "seated" and detail != "walk_in":
            t["seated_booked"] += value
        elif metric in ("lead", "cancel_notice", "rating", "surveys"):
            by[(metric, detail)] += value
        elif metric in ("inquiries", "converted"):
            by[(metric, channel)] += value
        elif metric in ("table_minutes", "available_minutes"):
            by[(metric, service)] += value
        elif metric == "reply":
            replies[int(detail)] += value
    answered = by[("surveys", "answered")]
    asked = answered + by[("surveys", "sent")]
    ratings = {str(n): by[("rating", str(n))] for n in range(1, 6)}
    rated = sum(ratings.values())
    average = round(sum(int(k) * v for k, v in ratings.items()) / rated, 2) if rated else None
    reply_count = sum(replies.values())
    reply_avg = round(t["reply_ms"] / reply_count / 1000, 3) if reply_count else None
    services = sorted({s for (m, s) in by if m in ("table_minutes", "available_minutes")})
    channels = sorted({c for (m, c) in by if m == "inquiries"})
    found: dict[str, Any] = dict(
        bookings=t["bookings"],
        covers=t["covers"],
        by_channel={
            k: {"bookings": v["bookings"], "covers": v["covers"]}
            for k, v in sorted(channel_split.items())
        },
        by_source={
            k: {"bookings": v["bookings"], "covers": v["covers"]}
            for k, v in sorted(source_split.items())
        },
        lead_time={name: by[("lead", name)] for name, _ in LEAD_BUCKETS}
        | {LEAD_LAST: by[("lead", LEAD_LAST)]},
        success_rate=_rate(t["attempts_booked"], t["attempts"], "> 95%", above=0.95),
        conversion=_rate(t["converted"], t["inquiries"], "> 60%", above=0.60),
        conversion_by_channel={
            c: _rate(by[("converted", c)], by[("inquiries", c)], "> 60%", above=0.60)
            for c in channels
        },
        no_show_rate=_rate(t["no_show"], t["no_show"] + t["seated_booked"], "< 10%", below=0.10),
        cancellation_rate=_rate(t["cancelled"], t["bookings_booked"]),
        cancellation_notice={name: by[("cancel_notice", name)] for name, _ in NOTICE_BUCKETS}
        | {NOTICE_LAST: by[("cancel_notice", NOTICE_LAST)]},
        occupancy=_rate(t["table_minutes"], t["available_minutes"]),
        occupancy_by_service={
            s: _rate(by[("table_minutes", s)], by[("available_minutes", s)]) for s in services
        },
        bot=dict(
            replies=reply_count,
            p50_s=_percentile(replies, 0.5),
            p95_s=_percentile(replies, 0.95),
            average_s=reply_avg,
            misses_target=reply_avg is not None and not reply_avg < 5,
            handoff_rate=_rate(t["handoffs"], t["inquiries"]),
            misunderstood_rate=_rate(t["misunderstood"], t["inbound"]),
        ),
        satisfaction=dict(
            average=average,
            misses_target=average is not None and not average > 4.5,
            answers=rated,
            distribution=ratings,
            response_rate=_rate(answered, asked),
        ),
        returning_bookings=t["returning"],
        returning_covers_share=_rate(t["returning_covers"], t["covers"]),
        missed_targets=[],
    )
    found["missed_targets"] = [
        name
        for name, missed in (
            ("success_rate", found["success_rate"]["misses_target"]),
            ("conversion", found["conversion"]["misses_target"]),
            ("no_show_rate", found["no_show_rate"]["misses_target"]),
            ("bot_reply", found["bot"]["misses_target"]),
            ("satisfaction", found["satisfaction"]["misses_target"]),
        )
        if missed
    ]
    return Figures.model_validate(found)


def heatmap(rows: Iterable[Row]) -> dict[str, Rate]:
    seated: dict[str, int] = defaultdict(int)
    available: dict[str, int] = defaultdict(int)
    for metric, _, _, detail, value in rows:
        if metric == "heat_seated":
            seated[detail] += value
        elif metric == "heat_available":
            available[detail] += value
    cells = sorted(set(seated) | set(available), key=lambda c: (int(c.split(":")[0]), c))
    return {c: Rate.model_validate(_rate(seated[c], available[c])) for c in cells}


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def grouped(
    rows: Sequence[tuple[date | None, str, str, str, str, int]], group: Group
) -> list[GroupFigures]:
    """The figures per day, ISO week, service or channel of ``rows``.

    Per service, the figures that have no service (attempts, messages) are empty;
    per channel, those with no channel (occupancy) are."""
    buckets: dict[str, list[Row]] = defaultdict(list)
    for day, metric, service, channel, detail, value in rows:
        if group == "day":
            assert day is not None
            key = day.isoformat()
        elif group == "week":
            assert day is not None
            key = iso_week(day)
        elif group == "service":
            key = service
        else:
            key = channel
        if group in ("service", "channel") and key == "":
            continue
        buckets[key].append((metric, service, channel, detail, value))
    return [GroupFigures(key=key, figures=figures(buckets[key])) for key in sorted(buckets)]
