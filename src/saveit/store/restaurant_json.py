"""A restaurant's rules and service hours as the JSON documents the database keeps."""

from __future__ import annotations

from datetime import time
from typing import Any

from saveit.domain.model import (
    Rules,
    ServiceHours,
    TurnTime,
)


def rules_to_json(rules: Rules) -> dict[str, Any]:
    return {
        "slot_minutes": rules.slot_minutes,
        "turn_times": [{"max_party": t.max_party, "minutes": t.minutes} for t in rules.turn_times],
        "buffer_minutes": rules.buffer_minutes,
        "min_lead_minutes": rules.min_lead_minutes,
        "max_days_ahead": rules.max_days_ahead,
        "max_party_size": rules.max_party_size,
        "cancel_cutoff_minutes": rules.cancel_cutoff_minutes,
        "pacing_covers_per_slot": rules.pacing_covers_per_slot,
        "checkin_early_minutes": rules.checkin_early_minutes,
        "checkin_late_minutes": rules.checkin_late_minutes,
        "no_show_grace_minutes": rules.no_show_grace_minutes,
        "no_show_approval_after": rules.no_show_approval_after,
        "verify_public_bookings": rules.verify_public_bookings,
    }


def rules_from_json(doc: dict[str, Any]) -> Rules:
    values = dict(doc)
    if "turn_times" in values:
        values["turn_times"] = tuple(TurnTime(**t) for t in values["turn_times"])
    return Rules(**values)


def hours_to_json(hours: ServiceHours) -> dict[str, str]:
    return {
        "opens": hours.opens.strftime("%H:%M"),
        "closes": hours.closes.strftime("%H:%M"),
        "name": hours.name,
    }


def hours_from_json(doc: dict[str, Any]) -> ServiceHours:
    return ServiceHours(
        time.fromisoformat(doc["opens"]), time.fromisoformat(doc["closes"]), doc.get("name", "")
    )
