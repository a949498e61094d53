"""How a cached availability answer is stored and rendered: as bytes ready to send,
so a hit neither parses nor re-renders the day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached answer: a small header (age, local day, lead time, first start) and the
    response body, stored as ``header \\n body`` so a hit parses only the header."""

    header: dict[str, Any]
    body: bytes

    def encode(self) -> bytes:
        return dumps(self.header) + b"\n" + self.body


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
