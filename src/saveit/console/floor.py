"""The host's day as something to draw: a timeline (a row per table, a column per
slot) and a filtered list, built from a :class:`saveit.booking.day_sheet.DaySheet`.

Blocks are placed with classes (``c<start column>``, ``w<span>``, ``cols-<n>`` on
the track; ``static/tonight-grid.css`` is :func:`grid_css`), never with a
``style`` attribute: the console's Content-Security-Policy has no
``'unsafe-inline'`` for styles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from saveit.booking.day_sheet import DaySheet
from saveit.console.i18n import translate
from saveit.domain.model import Restaurant, Status
from saveit.domain.schedule import windows_for
from saveit.domain.views import ReservationView

SLOT_MINUTES = 15
MAX_COLUMNS = 128  # 32 hours of 15 minutes: the classes tonight-grid.css defines
MAX_SPAN = 64
ON_TIMELINE = frozenset(
    {Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED, Status.HELD}
)
STATUSES = ("pending", "confirmed", "checked_in", "completed", "cancelled", "no_show")
CHANNELS = ("phone", "walk_in", "whatsapp", "sms", "instagram", "webchat", "web", "email", "api")
CHANNEL_MARK = {
    "whatsapp": "WA",
    "sms": "SMS",
    "instagram": "IG",
    "webchat": "Chat",
    "web": "Web",
    "email": "@",
    "phone": "Tel",
    "walk_in": "Walk",
    "api": "API",
}
UNASSIGNED = ""


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    status: str = ""
    channel: str = ""
    area: str = ""

    @classmethod
    def of(cls, params: Iterable[tuple[str, str]]) -> Filters:
        got = dict(params)
        status = got.get("status", "")
        channel = got.get("channel", "")
        return cls(
            q=got.get("q", "").strip()[:100],
            status=status if status in STATUSES else "",
            channel=channel if channel in CHANNELS else "",
            area=got.get("area", "")[:50],
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.channel or self.area)

    def query(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("q", self.q),
                ("status", self.status),
                ("channel", self.channel),
                ("area", self.area),
            )
            if v
        }

    def keeps(self, booking: Booking, areas: dict[str, str]) -> bool:
        view = booking.view
        if self.status and view.status.value != self.status:
            return False
        if self.channel and view.source != self.channel:
            return False
        if self.area and not any(areas.get(t) == self.area for t in view.tables):
            return False
        if self.q:
            needle = self.q.casefold()
            guest = view.guest
            hay = [view.code, view.notes, *view.tables, *booking.allergies]
            if guest is not None:
                hay += [guest.name, guest.phone or "", guest.email or ""]
            if not any(needle in h.casefold() for h in hay):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Booking:
    view: ReservationView
    allergies: tuple[str, ...]
    start: datetime  # local
    end: datetime  # local

    @property
    def code(self) -> str:
        return self.view.code

    @property
    def name(self) -> str:
        return self.view.guest.name if self.view.guest and self.view.guest.name else ""

    @property
    def mark(self) -> str:
        return CHANNEL_MARK.get(self.view.source, self.view.source[:4])

    @property
    def status(self) -> str:
        return self.view.status.value

    @property
    def time(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def warns(self) -> bool:
        return bool(self.allergies or self.view.notes)


@dataclass(frozen=True, slots=True)
class Block:
    booking: Booking
    column: int  # 1-based grid column
    span: int
    first: bool  # the booking's first block (others: its other tables)


@dataclass(slots=True)
class Row:
    table: str
    area: str
    seats: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Tick:
    label: str
    column: int
    span: int


@dataclass(frozen=True, slots=True)
class Timeline:
    origin: datetime  # local, the first column's start
    columns: int
    ticks: tuple[Tick, ...]
    rows: tuple[Row, ...]

    @property
    def origin_utc(self) -> str:
        return self.origin.astimezone(UTC).isoformat()

    def starts(self) -> list[tuple[str, str]]:
        """Every slot of the timeline as (UTC instant, local HH:MM): the move form's times."""
        return [
            (
                (at := self.origin + timedelta(minutes=SLOT_MINUTES * i))
                .astimezone(UTC)
                .isoformat(),
                f"{at:%H:%M}",
            )
            for i in range(self.columns)
        ]


@dataclass(frozen=True, slots=True)
class Floor:
    sheet: DaySheet
    bookings: tuple[Booking, ...]  # all of the day, by start
    shown: tuple[Booking, ...]  # after the filters
    timeline: Timeline
    areas: tuple[str, ...]
    filters: Filters
    labels: dict[str, str] = field(default_factory=dict)  # what a block says aloud, by code
    notes: dict[str, str] = field(default_factory=dict)  # a block's allergies and notes line

    @property
    def covers(self) -> int:
        return sum(b.view.party_size for b in self.shown if b.view.status in ON_TIMELINE)


def _floor_minutes(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _range(restaurant: Restaurant, day: date, bookings: Sequence[Booking]) -> tuple[datetime, int]:
    tz = restaurant.tz
    windows = windows_for(restaurant, day)
    longest = max((t.minutes for t in restaurant.rules.turn_times), default=120)
    firsts = [w.opens.astimezone(tz) for w in windows] + [b.start for b in bookings]
    lasts = [w.closes.astimezone(tz) + timedelta(minutes=longest) for w in windows]
    lasts += [b.end for b in bookings]
    if not firsts:
        first = datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(hours=12)
        last = first + timedelta(hours=12)
    else:
        first, last = _floor_minutes(min(firsts)), max(lasts)
    minutes = int((last - first).total_seconds() // 60)
    columns = max(4, min(MAX_COLUMNS, -(-minutes // SLOT_MINUTES)))
    return first, columns


def _label(booking: Booking, lang: str) -> str:
    view = booking.view
    source = view.source
    return translate(
        lang,
        "tonight.block",
        name=booking.name or translate(lang, "tonight.no_name"),
        party=view.party_size,
        time=booking.time,
        status=translate(lang, f"tonight.st.{booking.status}"),
        channel=translate(lang, f"tonight.ch.{source}") if source in CHANNELS else source,
        tables="+".join(view.tables) or "—",
        extra=translate(lang, "tonight.block.warn") if booking.warns else "",
    )


def _note(booking: Booking) -> str:
    text = ", ".join(booking.allergies)
    if booking.allergies and booking.view.notes:
        text += " · "
    text += booking.view.notes
    return text if len(text) <= 40 else text[:39] + "…"


def build(sheet: DaySheet, filters: Filters, lang: str = "en") -> Floor:
    """The day drawn for ``filters``; the texts each block needs are made here once
    (in ``lang``), as a template calling the catalogue per block cost the most."""
    restaurant = sheet.restaurant
    tz = restaurant.tz
    bookings = tuple(
        Booking(v, sheet.allergies_of(v), v.start.astimezone(tz), v.end.astimezone(tz))
        for v in sheet.reservations
    )
    areas_of = {t.code: t.area for t in restaurant.tables}
    shown = tuple(b for b in bookings if filters.keeps(b, areas_of))
    origin, columns = _range(restaurant, sheet.day, bookings)
    rows = {
        t.code: Row(t.code, t.area, f"{t.min_capacity}–{t.max_capacity}")
        for t in restaurant.tables
        if t.active and (not filters.area or t.area == filters.area)
    }
    loose = Row(UNASSIGNED, "", "")
    for booking in shown:
        if booking.view.status not in ON_TIMELINE:
            continue
        offset = int((booking.start - origin).total_seconds() // 60) // SLOT_MINUTES
        if offset < 0 or offset >= columns:
            continue
        span = max(1, -(-int((booking.end - booking.start).total_seconds() // 60) // SLOT_MINUTES))
        span = min(span, MAX_SPAN, columns - offset)
        targets = [rows[t] for t in booking.view.tables if t in rows] or (
            [] if booking.view.tables else [loose]
        )
        for i, row in enumerate(targets):
            row.blocks.append(Block(booking, offset + 1, span, i == 0))
    ordered = list(rows.values()) + ([loose] if loose.blocks else [])
    hour = 60 // SLOT_MINUTES
    ticks = tuple(
        Tick(f"{origin + timedelta(minutes=SLOT_MINUTES * i):%H:%M}", i + 1, min(hour, columns - i))
        for i in range(0, columns, hour)
    )
    areas = tuple(dict.fromkeys(t.area for t in restaurant.tables if t.active))
    drawn = [block.booking for row in ordered for block in row.blocks]
    return Floor(
        sheet,
        bookings,
        shown,
        Timeline(origin, columns, ticks, tuple(ordered)),
        areas,
        filters,
        {b.code: _label(b, lang) for b in drawn},
        {b.code: _note(b) for b in drawn if b.warns},
    )


def grid_css() -> str:
    """The placement classes (``static/tonight-grid.css``; a test keeps them equal)."""
    lines = [
        "/* Timeline placement classes: cols-N on a track, cN the start column, wN the",
        " * span. Generated by saveit.console.floor.grid_css(); no style attributes (CSP). */",
    ]
    lines += [
        f".cols-{n}{{grid-template-columns:repeat({n},var(--slot))}}"
        for n in range(1, MAX_COLUMNS + 1)
    ]
    lines += [f".c{n}{{grid-column-start:{n}}}" for n in range(1, MAX_COLUMNS + 1)]
    lines += [f".w{n}{{grid-column-end:span {n}}}" for n in range(1, MAX_SPAN + 1)]
    return "\n".join(lines) + "\n"
