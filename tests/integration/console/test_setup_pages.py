"""The Setup pages through HTTP (the app in-process, SQLite and PostgreSQL): each
form saves through the admin service and what it saves is what the API then
reads; each refusal is the API's own message, next to its field, with nothing
changed; hosts are refused every page and post; secrets never come back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.console.services import ConsoleServices
from tests.support import FakeClock, assign_account, demo_document

PASSWORD = "correct-horse-battery"
PAGES = ("", "/profile", "/hours", "/dates", "/tables", "/rules", "/channels")


@pytest.fixture
def app_services(settings: Settings, clock: FakeClock) -> Iterator[tuple[Container, Any]]:
    container = build(
        settings.model_copy(update={"console_signin_per_minute": 1000}), clock=clock, migrate=False
    )
    apply_spec(container.engine, parse_document(demo_document()))
    yield container, create_app(container)
    container.close()


@pytest.fixture
def app(app_services: tuple[Container, Any]) -> Any:
    return app_services[1]


@pytest.fixture
def services(app: Any) -> ConsoleServices:
    return app.state.console  # type: ignore[no-any-return]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


class Staff:
    """A signed-in browser without JavaScript: plain form posts."""

    def __init__(self, app: Any, services: ConsoleServices, role: str) -> None:
        email = f"{role}@example.com"
        services.staff.add("demo", email=email, name=role.title(), role=role, password=PASSWORD)
        self.client = TestClient(
            app, base_url="http://127.0.0.1", headers={"Accept-Language": "en"}
        )
        form = self.client.get("/console/sign-in")
        signed = self.client.post(
            "/console/sign-in",
            data={"csrf": _csrf(form.text), "email": email, "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        self.token = _csrf(self.client.get("/console/r/demo").text)

    def get(self, path: str) -> Any:
        return self.client.get(f"/console/r/demo/setup{path}")

    def post(self, path: str, **form: str) -> Any:
        return self.client.post(f"/console/r/demo/setup{path}", data={"csrf": self.token, **form})

    def api(self, path: str) -> Any:
        return self.client.get(f"/v1/restaurants/demo{path}")


@pytest.fixture
def manager(app: Any, services: ConsoleServices) -> Iterator[Staff]:
    staff = Staff(app, services, "manager")
    with staff.client:
        yield staff


def _problem_next_to(html: str, field_id: str) -> str:
    """The message shown next to the input ``field_id`` (aria-describedby)."""
    found = re.search(
        rf'<p class="problem field-problem" id="{field_id}-error"[^>]*>([^<]*)</p>', html
    )
    assert found is not None, html
    assert re.search(rf'aria-describedby="[^"]*{field_id}-error', html), field_id
    if not field_id.endswith("-days"):  # an input, not the days' fieldset
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html), field_id
    return found.group(1)


def test_a_host_is_refused_every_setup_page_and_post(app: Any, services: ConsoleServices) -> None:
    host = Staff(app, services, "host")
    with host.client:
        assert "/setup" not in host.client.get("/console/r/demo").text
        for path in PAGES:
            assert host.get(path).status_code == 403, path
        posts = ("/profile", "/hours/new", "/hours/0/remove", "/dates", "/tables/new")
        posts += ("/tables/T1", "/tables/combinations/new", "/rules", "/channels/sms")
        for path in posts:
            assert host.post(path, name="x").status_code == 403, path
    assert services.restaurants.restaurant("demo").tables[0].code == "T1"


def test_a_service_changed_in_the_console_is_what_the_service_holds(
    manager: Staff, services: ConsoleServices
) -> None:
    page = manager.get("/hours")
    assert page.status_code == 200
    was = re.findall(r'name="was" value="([^"]+)"', page.text)[0]
    assert was.startswith("13:00-16:00")
    days = {d: "on" for d in ("mon", "tue", "wed", "thu", "fri")}
    saved = manager.post("/hours/0", was=was, name="lunch", opens="12:00", closes="15:30", **days)
    assert saved.status_code == 200
    assert "Saved." in saved.text
    restaurant = services.restaurants.restaurant("demo")
    lunch = {
        (s.hours.opens.isoformat(), s.hours.closes.isoformat(), s.weekday)
        for s in restaurant.services
        if s.hours.name == "lunch"
    }
    assert lunch == {("12:00:00", "15:30:00", day) for day in range(5)}
    assert "Closed every: Saturday, Sunday" not in saved.text  # dinner still opens them


def test_a_refused_value_is_shown_next_to_its_field_and_changes_nothing(
    manager: Staff, services: ConsoleServices
) -> None:
    before = services.restaurants.restaurant("demo")
    was = re.findall(r'name="was" value="([^"]+)"', manager.get("/hours").text)[0]
    same = manager.post("/hours/0", was=was, name="lunch", opens="13:00", closes="13:00", mon="on")
    assert same.status_code == 422
    assert _problem_next_to(same.text, "service-0-closes") == (
        "a service cannot open and close at the same time"
    )
    off_grid = manager.post("/hours/new", name="x", opens="13:07", closes="15:00", mon="on")
    assert _problem_next_to(off_grid.text, "service-new-opens") == (
        "times are whole minutes on a 5-minute grid"
    )
    no_days = manager.post("/hours/new", name="x", opens="13:00", closes="15:00")
    assert "at least 1 item" in _problem_next_to(no_days.text, "service-new-days")

    table = manager.post("/tables/T1", area="indoor", min_capacity="6", max_capacity="2")
    assert table.status_code == 422
    assert _problem_next_to(table.text, "table-T1-min_capacity") == (
        "min_capacity cannot exceed max_capacity"
    )
    rules = manager.post("/rules", **_rules(slot_minutes="7"))
    assert rules.status_code == 422
    assert "multiple of 5" in _problem_next_to(rules.text, "rules-slot_minutes")
    turn = manager.post("/rules", **_rules(**{"turn_times-1-minutes": "0"}))
    assert _problem_next_to(turn.text, "rules-turn_times-1-minutes").startswith(
        "Input should be greater than or equal to 5"
    )
    combo = manager.post(
        "/tables/combinations/new", code="T1+T9", tables="T1 T9", min_capacity="2", max_capacity="4"
    )
    assert combo.status_code == 422
    assert "T9" in _problem_next_to(combo.text, "combination-new-tables")
    date = manager.post("/dates", date="2026-13-01", closed="on")
    assert date.status_code == 422
    _problem_next_to(date.text, "date-date")
    both = manager.post(
        "/dates",
        date="2030-01-02",
        closed="on",
        **{"hours-0-opens": "13:00", "hours-0-closes": "15:00"},
    )
    assert _problem_next_to(both.text, "date-closed") == "a closed date has no hours"
    assert services.restaurants.restaurant("demo") == before


def test_the_profile_is_the_owners_and_checked_as_the_api_checks_it(
    app: Any, services: ConsoleServices, manager: Staff
) -> None:
    assert manager.get("/profile").status_code == 200
    assert manager.post("/profile", name="Nope", timezone="Europe/Madrid").status_code == 403
    owner = Staff(app, services, "owner")
    with owner.client:
        bad = owner.post("/profile", name="Casa Demo", timezone="Mars/Olympus")
        assert bad.status_code == 422
        assert "Mars/Olympus" in _problem_next_to(bad.text, "profile-timezone")
        web = owner.post(
            "/profile",
            name="Casa Demo",
            timezone="Europe/Madrid",
            **{"contact-website": "javascript:alert(1)"},
        )
        assert _problem_next_to(web.text, "profile-contact-website") == (
            "website must be an http:// or https:// address"
        )
        saved = owner.post(
            "/profile",
            name="Casa Nueva",
            timezone="Atlantic/Canary",
            **{"contact-phone": "+34 910 000 001", "contact-website": "https://casa.example"},
        )
        assert saved.status_code == 200
        public = owner.client.get("/v1/restaurants/demo").json()
        assert public["name"] == "Casa Nueva"
        assert public["timezone"] == "Atlantic/Canary"
        assert public["contact"]["website"] == "https://casa.example"
        assert public["contact"]["email"] is None  # a field left empty is cleared


def test_special_dates_tables_combinations_and_rules_are_saved(
    manager: Staff, services: ConsoleServices
) -> None:
    closed = manager.post("/dates", date="2030-01-02", closed="on", note="Inventory")
    assert closed.status_code == 200
    opened = manager.post(
        "/dates", date="2030-01-03", **{"hours-1-opens": "18:00", "hours-1-closes": "22:00"}
    )
    assert opened.status_code == 200
    specials = {s.day.isoformat(): s for s in services.restaurants.restaurant("demo").special_dates}
    assert specials["2030-01-02"].closed
    assert specials["2030-01-02"].note == "Inventory"
    assert specials["2030-01-03"].hours[0].opens.isoformat() == "18:00:00"
    assert manager.post("/dates/2030-01-02/remove").status_code == 200
    assert "2030-01-02" not in manager.get("/dates").text

    assert (
        manager.post(
            "/tables/new", code="T8", area="bar", min_capacity="1", max_capacity="2", active="on"
        ).status_code
        == 200
    )
    assert (
        manager.post("/tables/T7", area="terrace", min_capacity="4", max_capacity="6").status_code
        == 200
    )
    tables = {t.code: t for t in services.restaurants.restaurant("demo").tables}
    assert tables["T8"].area == "bar"
    assert tables["T8"].active
    assert not tables["T7"].active  # the box left unticked: no longer bookable
    assert (
        manager.post(
            "/tables/combinations/new",
            code="T1+T2",
            tables="T1, T2",
            min_capacity="3",
            max_capacity="4",
        ).status_code
        == 200
    )
    assert manager.post("/tables/combinations/T4+T5/remove").status_code == 200
    codes = {c.code for c in services.restaurants.restaurant("demo").combinations}
    assert codes == {"T1+T2"}

    saved = manager.post("/rules", **_rules(max_party_size="12", pacing_covers_per_slot="20"))
    assert saved.status_code == 200
    rules = services.restaurants.restaurant("demo").rules
    assert rules.max_party_size == 12
    assert rules.pacing_covers_per_slot == 20
    assert [(t.max_party, t.minutes) for t in rules.turn_times] == [(2, 90), (4, 120), (1000, 150)]


def test_channel_secrets_are_never_shown_only_whether_they_are_set(
    app_services: tuple[Container, Any], manager: Staff
) -> None:
    container, _ = app_services
    assign_account(
        container, "demo", "whatsapp", "1234567890", {"access_token": "EAAG-very-secret"}
    )
    page = manager.get("/channels")
    assert page.status_code == 200
    assert "EAAG-very-secret" not in page.text
    assert "1234567890" in page.text
    assert re.search(r"<dt>Access token</dt><dd>set</dd>", page.text)
    assert "Proven by admin" in page.text

    refused = manager.post(
        "/channels/whatsapp", phone_number_id="12ab", access_token="typed-secret"
    )
    assert refused.status_code == 422
    assert "typed-secret" not in refused.text
    assert "pattern" in _problem_next_to(refused.text, "channel-whatsapp-phone_number_id")

    sms = manager.post("/channels/sms", number="not a phone")
    assert sms.status_code == 422
    assert "is not a phone number" in _problem_next_to(sms.text, "channel-sms-number")
    claimed = manager.post("/channels/sms", number="+34 600 111 222")
    assert claimed.status_code == 200
    assert "+34600111222" in claimed.text
    assert "Pending" in claimed.text
    assert "assigned by the deployment" in claimed.text


def _rules(**changes: str) -> dict[str, str]:
    form = {
        "slot_minutes": "15",
        "buffer_minutes": "15",
        "min_lead_minutes": "60",
        "max_days_ahead": "60",
        "max_party_size": "8",
        "cancel_cutoff_minutes": "120",
        "checkin_early_minutes": "30",
        "checkin_late_minutes": "45",
        "no_show_grace_minutes": "20",
        "pacing_covers_per_slot": "",
        "no_show_approval_after": "",
        "turn_times-0-max_party": "2",
        "turn_times-0-minutes": "90",
        "turn_times-1-max_party": "4",
        "turn_times-1-minutes": "120",
        "turn_times-2-max_party": "1000",
        "turn_times-2-minutes": "150",
        "turn_times-3-max_party": "",
        "turn_times-3-minutes": "",
    }
    return form | changes
