"""Setup: the booking rules — the slot grid, turn times by party size, the buffer,
lead time, days ahead, party size, cancellation cutoff, pacing, and the door's
and no-shows' rules — as one form checked by the API's ``RulesSpec`` (its
bounds and its rules between fields) and saved through the admin service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from saveit.admin.setup import RulesSpec
from saveit.console.pages.setup import save, show
from saveit.console.session import AtRestaurant, Form, ManagerAt, services_of
from saveit.console.setup_forms import Refused, build, checked, text_or_none

router = APIRouter(prefix="/console/r/{slug}/setup/rules", include_in_schema=False)

NUMBERS = (
    "slot_minutes",
    "buffer_minutes",
    "min_lead_minutes",
    "max_days_ahead",
    "max_party_size",
    "cancel_cutoff_minutes",
    "checkin_early_minutes",
    "checkin_late_minutes",
    "no_show_grace_minutes",
)
OPTIONAL = ("pacing_covers_per_slot", "no_show_approval_after")
SPARE_TURN_TIMES = 2  # empty rows offered to add turn times
MAX_TURN_TIMES = 15  # the console's form holds at most 50 fields


def _context(request: Request, at: AtRestaurant) -> dict[str, Any]:
    rules = RulesSpec.from_domain(services_of(request).restaurants.restaurant(at.slug).rules)
    rows = min(len(rules.turn_times) + SPARE_TURN_TIMES, MAX_TURN_TIMES)
    return {"rules": rules, "turn_rows": rows}


@router.get("")
def rules_page(request: Request, at: ManagerAt) -> Response:
    return show(request, at, "rules", **_context(request, at))


def _turn_times(form: Form) -> tuple[list[dict[str, str]], list[int]]:
    """The filled rows, and each one's row number in the form."""
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    for i in range(MAX_TURN_TIMES):
        row = {k: form.get(f"turn_times-{i}-{k}", "").strip() for k in ("max_party", "minutes")}
        if any(row.values()):
            rows.append(row)
            numbers.append(i)
    return rows, numbers


@router.post("")
def save_rules(request: Request, at: ManagerAt, form: Form) -> Response:
    fields = [*NUMBERS, *OPTIONAL, "verify_public_bookings", "turn_times"]
    fields += [
        f"turn_times-{i}-{k}" for i in range(MAX_TURN_TIMES) for k in ("max_party", "minutes")
    ]

    def change() -> None:
        turn_times, numbers = _turn_times(form)
        values: dict[str, Any] = {name: form.get(name, "") for name in NUMBERS}
        values |= {name: text_or_none(form, name) for name in OPTIONAL}
        values |= {"verify_public_bookings": checked(form, "verify_public_bookings")}
        values["turn_times"] = turn_times
        try:
            rules = build(RulesSpec, values)
        except Refused as exc:  # a turn time's error on the row the person filled
            raise Refused({_row_of(k, numbers): v for k, v in exc.problems.items()}) from None
        services_of(request).restaurants.set_rules(at.slug, rules.to_domain())

    return save(
        request,
        at,
        "rules",
        target="rules",
        form=form,
        fields=fields,
        change=change,
        done="setup.saved",
        context=lambda: _context(request, at),
    )


def _row_of(key: str, numbers: list[int]) -> str:
    parts = key.split("-")
    if len(parts) == 3 and parts[0] == "turn_times" and parts[1].isdigit():
        index = int(parts[1])
        if index < len(numbers):
            return f"turn_times-{numbers[index]}-{parts[2]}"
    return key
