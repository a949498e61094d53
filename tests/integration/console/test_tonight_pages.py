"""Tonight through its HTTP pages and its live socket (the app in-process, on SQLite
and PostgreSQL): the day's timeline and list, searching and filtering, a phone
booking on a free time, a walk-in, moves (one refused because the table is
taken), status changes, stale edits refused, and the console's live feed with
its catch-up and refusals.

The clock stands at Monday 2026-06-01 11:00 in Madrid; the demo restaurant serves
lunch 13:00-16:00 and dinner 20:00-23:30.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.console.floor import grid_css
from saveit.console.render import STATIC
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from tests.support import FakeClock, demo_document

PASSWORD = "correct-horse-battery"
DAY = "2026-06-02"
BASE = "/console/r/demo/tonight"
WS = "ws://127.0.0.1"  # the test client would say ws://testserver: not loopback
STAFF = Actor("staff", "someone-else", "api")


@pytest.fixture
def app_services(settings: Settings, clock: FakeClock) -> Iterator[tuple[Container, Any]]:
    embedded = settings.model_copy(
        update={"console_signin_per_minute": 1000, "relay_in_process": None, "redis_url": None}
    )
    container = build(embedded, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otra")))
    app = create_app(container)
    app.state.console.staff.add(
        "demo", email="host@example.com", name="Hana", role="host", password=PASSWORD
    )
    app.state.console.staff.add(
        "other", email="else@example.com", name="Elsa", role="owner", password=PASSWORD
    )
    yield container, app
    container.close()


@pytest.fixture
def host(app_services: tuple[Container, Any]) -> Iterator[TestClient]:
    english = {"Accept-Language": "en"}
    with TestClient(app_services[1], base_url="http://127.0.0.1", headers=english) as client:
        _sign_in(client, "host@example.com")
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient, email: str) -> None:
    form = client.get("/console/sign-in")
    done = client.post(
        "/console/sign-in",
        data={"csrf": _csrf(form.text), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def book(
    container: Container,
    at: str,
    party: int,
    name: str,
    *,
    tables: tuple[str, ...] = (),
    phone: str | None = None,
    allergies: tuple[str, ...] = (),
    status: Status = Status.CONFIRMED,
) -> ReservationView:
    made = container.booking.create(
        CreateReservation(
            restaurant="demo",
            start=datetime.fromisoformat(f"{DAY}T{at}:00+02:00"),
            party_size=party,
            guest=GuestDetails(name=name, phone=phone, allergies=allergies),
            tables=tables,
            source="whatsapp",
            status=status,
        ),
        STAFF,
    )
    return made.reservation


def post(client: TestClient, path: str, data: dict[str, Any], *, hx: bool = True) -> Any:
    page = client.get(f"{BASE}?date={DAY}")
    headers = {"HX-Request": "true"} if hx else {}
    return client.post(path, data={"csrf": _csrf(page.text), **data}, headers=headers)


def test_the_day_shows_each_booking_on_its_table_with_its_details(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    ana = book(
        container,
        "21:00",
        2,
        "Ana Allergic",
        phone="+34600000001",
        allergies=("gluten", "nuts"),
        tables=("T1",),
    )
    book(container, "20:30", 4, "Bruno Big", phone="+34600000002", tables=("T3",))
    page = host.get(f"{BASE}?date={DAY}")
    assert page.status_code == 200
    html = page.text
    assert f'id="b-{ana.code}-T1"' in html
    assert "Ana Allergic" in html
    assert "gluten, nuts" in html
    assert 'class="ch ch-whatsapp">WA<' in html
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert ' style="' not in html
    listed = host.get(f"{BASE}?date={DAY}&view=list&q=bruno")
    assert "Bruno Big" in listed.text
    assert "Ana Allergic" not in listed.text
    by_area = host.get(f"{BASE}/day?date={DAY}&view=list&area=terrace")
    assert "Bruno Big" not in by_area.text
    by_channel = host.get(f"{BASE}/day?date={DAY}&view=list&channel=whatsapp&status=confirmed")
    assert "Bruno Big" in by_channel.text
    assert "Ana Allergic" in by_channel.text
    other = host.get(f"{BASE}/day?date={DAY}&view=list&channel=sms")
    assert "Bruno Big" not in other.text


def test_a_move_onto_a_taken_table_is_refused_and_changes_nothing(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    ana = book(container, "21:00", 2, "Ana", tables=("T3",))
    bruno = book(container, "21:00", 2, "Bruno", tables=("T4",))
    at = datetime.fromisoformat(f"{DAY}T21:00:00+02:00").astimezone(UTC).isoformat()
    refused = post(
        host, f"{BASE}/b/{ana.code}/move", {"start": at, "table": "T4", "version": ana.version}
    )
    assert refused.status_code == 422
    assert "is taken" in refused.text
    assert "stays where it was" in refused.text
    assert container.booking.get(ana.code).tables == ("T3",)
    assert container.booking.get(bruno.code).tables == ("T4",)
    later = datetime.fromisoformat(f"{DAY}T23:00:00+02:00").astimezone(UTC).isoformat()
    moved = post(
        host, f"{BASE}/b/{ana.code}/move", {"start": later, "table": "T4", "version": ana.version}
    )
    assert moved.status_code == 200, moved.text
    assert "Moved to 23:00, table T4." in moved.text
    assert moved.headers["HX-Trigger"] == "tonight-changed"
    now = container.booking.get(ana.code)
    assert (now.tables, now.start.astimezone(UTC).isoformat()) == (("T4",), later)


def test_a_stale_edit_is_refused_and_the_booking_shown_as_it_is_now(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    ana = book(container, "21:00", 2, "Ana", tables=("T3",))
    seen = ana.version
    # Another screen changes the booking first, from the same version.
    edited = post(host, f"{BASE}/b/{ana.code}/edit", {"party_size": "3", "version": seen})
    assert edited.status_code == 200
    current = container.booking.get(ana.code)
    assert current.party_size == 3
    assert current.version == seen + 1
    stale = post(
        host, f"{BASE}/b/{ana.code}/edit", {"party_size": "4", "notes": "x", "version": seen}
    )
    assert stale.status_code == 422
    assert "Someone else changed this booking meanwhile" in stale.text
    assert f'name="version" value="{current.version}"' in stale.text  # refreshed
    assert container.booking.get(ana.code).party_size == 3
    stale_cancel = post(host, f"{BASE}/b/{ana.code}/cancel", {"version": seen})
    assert stale_cancel.status_code == 422
    assert container.booking.get(ana.code).status.value == "confirmed"
    # Without JavaScript the refusal is the whole page, with the panel open.
    plain = post(host, f"{BASE}/b/{ana.code}/no-show", {"version": seen}, hx=False)
    assert plain.status_code == 422
    assert "<h1>" in plain.text
    assert "Someone else changed this booking meanwhile" in plain.text


def test_status_changes_confirm_seat_complete_cancel_and_no_show(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    pending = book(container, "13:00", 2, "Pia", status=Status.PENDING)
    done = post(host, f"{BASE}/b/{pending.code}/confirm", {"version": pending.version})
    assert "Confirmed." in done.text
    v = container.booking.get(pending.code).version
    assert "Seated." in post(host, f"{BASE}/b/{pending.code}/check-in", {"version": v}).text
    v = container.booking.get(pending.code).version
    assert "Completed." in post(host, f"{BASE}/b/{pending.code}/complete", {"version": v}).text
    assert container.booking.get(pending.code).status.value == "completed"
    other = book(container, "21:00", 2, "Quique")
    assert (
        "Cancelled." in post(host, f"{BASE}/b/{other.code}/cancel", {"version": other.version}).text
    )
    assert post(host, f"{BASE}/b/{other.code}/launch", {}).status_code == 404


def test_a_phone_booking_on_a_free_time_and_a_walk_in(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    free = host.get(f"{BASE}/free?date={DAY}&party_size=4")
    assert free.status_code == 200
    times = re.findall(r'<option value="([^"]+)"[^>]*>(\d\d:\d\d)<', free.text)
    labels = [label for _, label in times]
    assert "13:00" in labels
    assert "21:00" in labels
    assert "17:00" not in labels
    nine = dict((label, value) for value, label in times)["21:00"]
    made = post(
        host,
        f"{BASE}/new?date={DAY}",
        {"party_size": "4", "start": nine, "name": "Carla Phone", "phone": "+34600000009"},
    )
    assert made.status_code == 200, made.text
    assert "Booked Carla Phone, 4 guests at 21:00" in made.text
    day = container.booking.list_for_day("demo", datetime.fromisoformat(DAY).date())
    [carla] = [v for v in day if v.guest and v.guest.name == "Carla Phone"]
    assert carla.source == "phone"
    assert carla.party_size == 4
    missing = post(host, f"{BASE}/new?date={DAY}", {"party_size": "4", "start": "", "name": "X"})
    assert missing.status_code == 422
    assert "Choose a time from the list." in missing.text
    seated = post(host, f"{BASE}/walk-in?date={DAY}", {"party_size": "2", "name": "Wally"})
    assert seated.status_code == 200, seated.text
    assert "Seated 2 guests at table" in seated.text


def test_another_restaurants_booking_is_not_found(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    theirs = container.booking.create(
        CreateReservation(
            restaurant="other",
            start=datetime.fromisoformat(f"{DAY}T21:00:00+02:00"),
            party_size=2,
            guest=GuestDetails(name="Secret Guest"),
        ),
        STAFF,
    ).reservation
    shown = host.get(f"{BASE}/b/{theirs.code}", headers={"HX-Request": "true"})
    assert shown.status_code == 404
    assert "Secret Guest" not in shown.text
    moved = post(host, f"{BASE}/b/{theirs.code}/cancel", {"version": theirs.version})
    assert moved.status_code == 404
    assert container.booking.get(theirs.code).status.value == "confirmed"
    assert host.get("/console/r/other/tonight").status_code == 404


def _position(html: str) -> int:
    found = re.search(r'data-live-since="(\d+)"', html)
    assert found is not None
    return int(found.group(1))


def test_the_live_socket_sends_changes_after_the_pages_position(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    first = book(container, "21:00", 2, "Before")
    position = _position(host.get(f"{BASE}?date={DAY}").text)
    missed = book(container, "21:30", 2, "Missed", phone="+34600000011")
    with host.websocket_connect(f"{WS}/console/r/demo/live?since={position}") as ws:
        replayed = ws.receive_json()
        assert replayed["type"] == "reservation.created"
        assert replayed["reservation"]["code"] == missed.code
        changed = ws.receive_json()
        assert changed == {**changed, "type": "availability.changed", "date": DAY}
        assert changed["completes"] is True
        assert "completes" not in replayed
        container.booking.cancel(first.code, STAFF)
        while (live := ws.receive_json())["type"] != "reservation.cancelled":
            pass
        assert live["reservation"]["code"] == first.code
        assert ws.receive_json()["type"] == "availability.changed"
    # From an unknown position: a snapshot to redraw from.
    with host.websocket_connect(f"{WS}/console/r/demo/live?since=999999") as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_the_live_socket_refuses_strangers_other_sites_and_other_restaurants(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    _, app = app_services

    def closed_with(client: TestClient, path: str, **headers: str) -> int:
        with (
            client.websocket_connect(WS + path, headers=headers) as ws,
            pytest.raises(WebSocketDisconnect) as ended,
        ):
            ws.receive_json()
        return ended.value.code

    assert closed_with(host, "/console/r/other/live") == 4404
    assert closed_with(host, "/console/r/demo/live", origin="https://evil.example") == 4403
    with TestClient(app, base_url="http://127.0.0.1") as stranger:
        assert closed_with(stranger, "/console/r/demo/live") == 4401


def test_the_grid_stylesheet_is_the_generated_one() -> None:
    assert (STATIC / "tonight-grid.css").read_text() == grid_css()


def test_a_live_change_redraws_only_the_rows_of_its_tables(
    host: TestClient, app_services: tuple[Container, Any]
) -> None:
    container, _ = app_services
    ana = book(container, "21:00", 2, "Ana Rows", tables=("T3",))
    page = host.get(f"{BASE}?date={DAY}").text
    origin = re.search(r'data-origin="([^"]+)"', page)
    columns = re.search(r'data-columns="(\d+)"', page)
    assert origin is not None
    assert columns is not None
    query = f"date={DAY}&origin={origin.group(1).replace('+', '%2B')}&columns={columns.group(1)}"
    rows = host.get(f"{BASE}/rows?{query}&tables=T3,T4")
    assert rows.status_code == 200
    assert "X-Tonight-Redraw" not in rows.headers
    assert re.findall(r'class="tl-row" id="(row-[^"]+)"', rows.text) == ["row-T3", "row-T4"]
    assert f'id="b-{ana.code}-T3"' in rows.text
    assert 'id="tonight-summary"' in rows.text
    moved = host.get(f"{BASE}/rows?date={DAY}&origin=2000-01-01T00:00:00Z&columns=4&tables=T3")
    assert moved.headers["X-Tonight-Redraw"] == "day"
    assert moved.text == ""


def _party_of_40_refused(client: TestClient) -> str:
    """Book 40 at 21:00 by phone (no table seats them); the refusal the form shows."""
    free = client.get(f"{BASE}/free?date={DAY}&party_size=4")
    start = re.findall(r'<option value="([^"]+)"[^>]*>21:00<', free.text)[0]
    refused = post(
        client, f"{BASE}/new?date={DAY}", {"party_size": "40", "start": start, "name": "Grupo"}
    )
    assert refused.status_code == 422
    problem = re.search(r'id="tn-new-error"[^>]*>([^<]*)<', refused.text)
    assert problem is not None
    return problem.group(1)


def test_a_refusal_reads_in_the_hosts_language(app_services: tuple[Container, Any]) -> None:
    """The services refuse in English (the API's problem details); a Spanish page
    shows the refusal in Spanish. Fails before the fix: the page showed the
    service's English detail to a Spanish host."""
    spanish = {"Accept-Language": "es-ES"}
    with TestClient(app_services[1], base_url="http://127.0.0.1", headers=spanish) as client:
        _sign_in(client, "host@example.com")
        problem = _party_of_40_refused(client)
    assert problem == "No hay ninguna mesa libre adecuada para ese grupo a esa hora."


def test_an_english_host_reads_the_services_own_detail(host: TestClient) -> None:
    problem = _party_of_40_refused(host)
    assert "table" in problem
    assert "mesa" not in problem
