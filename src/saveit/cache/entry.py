"""How a cached availability answer is stored and rendered: as bytes ready to send,
so a hit neither parses nor re-renders the day."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from saveit.domain.availability import Slot
    from saveit.domain.model import Restaurant

log = logging.getLogger(__name__)

PARSED_MAX = 4096  # stored entries whose header is kept parsed (then it starts over)


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached answer: a small header (age, local day, lead time, first start) and the
    response body, stored as ``header \\n body`` so a hit parses only the header."""

    header: dict[str, Any]
    body: bytes

    def encode(self) -> bytes:
        return dumps(self.header) + b"\n" + self.body


class DayRenderer:
    """One computed day's entries, for as many party sizes as were computed, each as
    the :class:`Entry` and the bytes stored for it.

    Sizes offered the same starts (every size, on a day with free tables) share
    one rendering of them; the rest of a document is a few constant pieces around
    the party size. A miss renders a week of sizes at once, and rendering each as a
    fresh document cost more than computing which starts are free."""

    def __init__(
        self, restaurant: Restaurant, day: date, *, staff: bool, at: float, today: date
    ) -> None:
        self._zone, self._tz = restaurant.timezone, restaurant.tz
        self._before_size = (
            b"".join(
                [b'{"restaurant":', dumps(restaurant.slug), b',"date":"', day.isoformat().encode()]
            )
            + b'","party_size":'
        )
        self._after_size = b',"timezone":' + dumps(restaurant.timezone) + b',"slots":['
        self._header = {
            "at": at,
            "today": today.isoformat(),
            "tz": restaurant.timezone,
            "lead": 0 if staff else restaurant.rules.min_lead_minutes,
        }
        self._rendered: dict[tuple[datetime, ...], tuple[bytes, dict[str, Any], bytes]] = {}

    def entry(self, party_size: int, slots: list[Slot]) -> tuple[Entry, bytes]:
        """The entry and its stored bytes (``Entry.encode()``, without encoding again)."""
        offered = tuple([slot.start for slot in slots])
        held = self._rendered.get(offered)
        if held is None:
            starts = b",".join([slot_json(self._zone, self._tz, start) for start in offered])
            header = self._header | {"first": offered[0].timestamp() if offered else None}
            held = (starts, header, dumps(header) + b"\n")
            self._rendered[offered] = held
        starts, header, stored_header = held
        body = b"".join(
            [self._before_size, str(party_size).encode(), self._after_size, starts, b"]}"]
        )
        return Entry(header, body), stored_header + body


def render_entry(
    restaurant: Restaurant,
    day: date,
    party_size: int,
    staff: bool,
    slots: list[Slot],
    at: float,
    today: date,
) -> Entry:
    """One entry (see :class:`DayRenderer`)."""
    return DayRenderer(restaurant, day, staff=staff, at=at, today=today).entry(party_size, slots)[0]


class EntryReader:
    """Stored entries as answers: each parsed once (a hit on a hot entry parses
    nothing), refused when older than the cache's TTL or made on another local
    day (the booking horizon moved), and rendered without the starts that the
    lead time excludes *now*."""

    def __init__(
        self, *, ttl_s: float, wall: Callable[[], float], clock: Callable[[], datetime]
    ) -> None:
        self.ttl_s = ttl_s
        self._wall = wall
        self._clock = clock
        self._parsed: dict[bytes, tuple[Entry, float, ZoneInfo, str]] = {}

    def usable(self, raw: bytes) -> Entry | None:
        parsed = self._parsed.get(raw)
        if parsed is None:
            try:
                head, _, body = raw.partition(b"\n")
                header: dict[str, Any] = json.loads(head)
                at, tz, today = float(header["at"]), ZoneInfo(header["tz"]), header["today"]
            except (ValueError, KeyError, TypeError):
                log.warning("availability cache: unreadable entry ignored")
                return None
            parsed = (Entry(header, body), at, tz, today)
            if len(self._parsed) >= PARSED_MAX:
                self._parsed.clear()
            self._parsed[raw] = parsed
        entry, at, tz, today = parsed
        if self._wall() - at >= self.ttl_s:
            return None
        if self._clock().astimezone(tz).date().isoformat() != today:
            return None  # another local day: the booking horizon has moved
        return entry

    def render(self, entry: Entry) -> bytes:
        earliest = (self._clock() + timedelta(minutes=entry.header["lead"])).timestamp()
        first = entry.header["first"]
        if first is None or first >= earliest:
            return entry.body  # nothing to filter: the common case for any later day
        doc = json.loads(entry.body)
        doc["slots"] = [
            s for s in doc["slots"] if datetime.fromisoformat(s["start"]).timestamp() >= earliest
        ]
        return dumps(doc)


_SLOT_JSON: dict[tuple[str, datetime], bytes] = {}
_SLOT_JSON_MAX = 100_000


def slot_json(zone: str, tz: ZoneInfo, start: datetime) -> bytes:
    """One start as the document lists it, ``{"start":…,"time":…}`` in local time.

    Remembered per (zone, instant): rendering a day's fifty starts cost more than
    computing which of them are free, and every party size lists the same ones."""
    key = (zone, start)
    found = _SLOT_JSON.get(key)
    if found is None:
        local = start.astimezone(tz)
        found = dumps({"start": local.isoformat(), "time": f"{local:%H:%M}"})
        if len(_SLOT_JSON) >= _SLOT_JSON_MAX:
            _SLOT_JSON.clear()
        _SLOT_JSON[key] = found
    return found


def dumps(doc: Any) -> bytes:
    """As Starlette's JSONResponse renders (compact, UTF-8)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
