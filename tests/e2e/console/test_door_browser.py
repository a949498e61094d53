"""The door scanner in a real browser with a camera, on SQLite and on PostgreSQL +
Redis: a guest books on the public API and gets the check-in QR; Chromium's fake
camera plays a video made from that very PNG; the page reads it, the booking is
checked in, and a second host's browser sees the guest arrive. Refusals (a
cancelled booking, another restaurant's QR, a forged code) say why; without a
camera the typed booking code works (a phone, in Spanish); axe on every state.

The restaurants are made for this module in a time zone where it is midday now,
open all day with no lead time, so a booking a few minutes ahead is in its
check-in window whenever the suite runs.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from saveit.admin.setup import apply_spec, parse_document
from saveit.store.database import create_db_engine
from tests.e2e.console.conftest import (
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    TABLET,
    Console,
    Person,
    _expected_status,
    check_accessibility,
    screenshot,
    sign_in,
)
from tests.support import demo_document

pytestmark = pytest.mark.timeout(300)

SEEN_WITHIN_MS = 20_000  # the camera page reads a frame every 150 ms; the other polls every 10 s


@dataclass(frozen=True)
class Door:
    here: str  # the restaurant the hosts work at
    elsewhere: str  # another restaurant, whose QR must not open this door
    zone: str


@dataclass(frozen=True)
class Guest:
    name: str
    code: str
    manage_token: str
    png: bytes  # the check-in QR exactly as the guest was sent it


def _midday_zone(now: datetime) -> str:
    """An ``Etc/GMT`` zone where it is between 11:00 and 13:00 now."""
    offset = 12 - now.hour
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are inverted


@pytest.fixture(scope="module")
def door(console: Console) -> Door:
    zone = _midday_zone(datetime.now(UTC))
    tag = uuid.uuid4().hex[:6]
    engine = create_db_engine(console.database_url)
    try:
        for slug, name in ((f"door-{tag}", "Casa Puerta"), (f"far-{tag}", "Lejos")):
            doc = demo_document(slug=slug, name=name, timezone=zone)
            doc["services"] = [{"name": "all day", "opens": "00:30", "closes": "23:30"}]
            doc["rules"] = {**doc["rules"], "min_lead_minutes": 0, "cancel_cutoff_minutes": 0}
            apply_spec(engine, parse_document(doc))
    finally:
        engine.dispose()
    return Door(f"door-{tag}", f"far-{tag}", zone)


def book(console: Console, slug: str, name: str) -> Guest:
    """A guest books on the public API for the next quarter hour and keeps the QR."""
    now = datetime.now(UTC) + timedelta(minutes=1)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=-now.minute % 15 or 15)
    made = httpx.post(
        f"{console.base}/v1/restaurants/{slug}/reservations",
        json={
            "name": name,
            "email": f"guest-{uuid.uuid4().hex[:8]}@example.com",
            "start": start.isoformat(),
            "party_size": 3,
        },
        timeout=10,
    )
    assert made.status_code == 201, made.text
    code, token = made.json()["reservation"]["code"], made.json()["manage_token"]
    qr = httpx.get(
        f"{console.base}/v1/reservations/{code}/qr",
        params={"format": "png"},
        headers={"X-Manage-Token": token},
        timeout=10,
    )
    assert qr.status_code == 200, qr.text
    assert qr.headers["content-type"] == "image/png"
    return Guest(name, code, token, qr.content)


def status_of(console: Console, guest: Guest) -> str:
    got = httpx.get(
        f"{console.base}/v1/reservations/{guest.code}",
        headers={"X-Manage-Token": guest.manage_token},
        timeout=10,
    )
    assert got.status_code == 200, got.text
    return str(got.json()["status"])


def camera_video(png: bytes, path: Path, frames: int = 10) -> Path:
    """The guest's QR held up to a 640x480 camera: a Y4M (YUV 4:2:0) video that
    Chromium's fake capture device plays in a loop."""
    qr = Image.open(io.BytesIO(png)).convert("RGB")
    picture = Image.new("RGB", (640, 480), (236, 236, 230))
    picture.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    y, cb, cr = picture.convert("YCbCr").split()
    half = (320, 240)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)
    return path


@pytest.fixture
def camera(browser: Any, tmp_path: Path) -> Iterator[Callable[[bytes], Any]]:
    """Open a page in a Chromium whose camera shows ``png`` (one browser per video:
    the fake device's file is a launch option). Script errors and console errors
    (CSP violations among them) fail the test, as in ``new_page``."""
    launched: list[Any] = []
    problems: list[str] = []

    def open_page(png: bytes, *, locale: str = "en-GB") -> Any:
        video = camera_video(png, tmp_path / f"qr-{len(launched)}.y4m")
        chromium = browser.browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        launched.append(chromium)
        context = chromium.new_context(viewport=TABLET, locale=locale)
        context.grant_permissions(["camera"])
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console: {msg.text} at {msg.location}")
                if msg.type == "error" and not _expected_status(msg.text)
                else None
            ),
        )
        return page

    yield open_page
    for chromium in launched:
        chromium.close()
    assert problems == []


def open_door(page: Any, console: Console, person: Person, slug: str) -> None:
    sign_in(page, console, person)
    page.goto(f"{console.base}/console/r/{slug}/door")


def focused(page: Any) -> str:
    """The id of the element with the keyboard focus (headless pages may not report
    ``:focus`` while the window itself is not focused)."""
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def open_door_in_spanish(page: Any, console: Console, person: Person, slug: str) -> None:
    page.goto(f"{console.base}/console/sign-in")
    page.get_by_label("Correo electrónico").fill(person.email)
    page.get_by_label("Contraseña").fill(person.password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state()
    page.goto(f"{console.base}/console/r/{slug}/door")


def test_the_camera_checks_the_guest_in_and_another_browser_sees_them_arrive(
    console: Console, door: Door, camera: Callable[..., Any], new_page: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    guest = book(console, door.here, "Lucía Puerta")
    at_stand, at_bar = console.person(door.here, "host"), console.person(door.here, "host")

    other = new_page()  # an ordinary browser, no camera: the typed code is offered
    open_door(other, console, at_bar, door.here)
    expect(other.locator("#door-camera-state")).to_contain_text("Type the booking code")
    arrived_elsewhere = other.locator("#door-arrived")
    expect(arrived_elsewhere).not_to_contain_text(guest.name)

    page = camera(guest.png)
    open_door(page, console, at_stand, door.here)
    expect(page.get_by_role("heading", name="Door scanner")).to_be_visible()
    welcome = page.get_by_role("status").filter(has_text="Welcome")
    expect(welcome).to_contain_text(f"Welcome, {guest.name}!", timeout=SEEN_WITHIN_MS)
    expect(welcome).to_contain_text("Table T")
    expect(welcome).to_contain_text("3 people")
    expect(page.locator("#door-camera-state")).to_contain_text("Hold the guest's QR code up")
    expect(page.locator("#door-arrived")).to_contain_text(guest.name)
    assert status_of(console, guest) == "checked_in"
    screenshot(page, "scanner", console)
    check_accessibility(page, what="door scanner, welcome")

    # The other host's page catches up by itself.
    expect(arrived_elsewhere).to_contain_text(guest.name, timeout=SEEN_WITHIN_MS)

    # Nobody touches the screen: the welcome gives way to "ready", and the QR still
    # in front of the camera is not taken for a second guest.
    expect(page.locator(".door-idle")).to_be_visible(timeout=10_000)
    expect(page.locator("#door-welcome")).to_be_empty()
    page.wait_for_timeout(1500)
    expect(page.locator("#door-refusal")).to_be_empty()
    check_accessibility(page, what="door scanner, ready for the next guest")


def test_a_cancelled_bookings_qr_and_another_restaurants_qr_are_refused_with_the_reason(
    console: Console, door: Door, camera: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    host = console.person(door.here, "host")
    cancelled = book(console, door.here, "Carlos Cancelado")
    gone = httpx.post(
        f"{console.base}/v1/reservations/{cancelled.code}/cancel",
        headers={"X-Manage-Token": cancelled.manage_token},
        timeout=10,
    )
    assert gone.status_code == 200, gone.text
    stranger = book(console, door.elsewhere, "Elena Lejos")

    page = camera(cancelled.png)
    open_door(page, console, host, door.here)
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Booking cancelled", timeout=SEEN_WITHIN_MS)
    expect(refusal).to_contain_text("Not checked in")
    expect(refusal).to_contain_text(cancelled.name)
    check_accessibility(page, what="door scanner, refused")
    screenshot(page, "scanner-refused", console)
    assert status_of(console, cancelled) == "cancelled"

    page = camera(stranger.png)
    open_door(page, console, host, door.here)
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Another restaurant's code", timeout=SEEN_WITHIN_MS)
    expect(refusal).not_to_contain_text(stranger.name)
    assert status_of(console, stranger) == "confirmed"


def test_without_a_camera_the_typed_code_checks_in_on_a_phone_in_spanish(
    console: Console, door: Door, new_page: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    guest = book(console, door.here, "Tomás Tecleado")
    host = console.person(door.here, "host")
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-ES")
    open_door_in_spanish(page, console, host, door.here)
    expect(page.get_by_role("heading", name="Escáner de la puerta")).to_be_visible()
    expect(page.locator("#door-camera-state")).to_contain_text("Escriba el código")
    code = page.get_by_label("Código de reserva")
    assert focused(page) == "door-code"  # typing is the way in: the field is ready

    code.fill("1.K0.1.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M")  # not ours
    code.press("Enter")
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Código no válido")
    check_accessibility(page, what="door scanner on a phone, refused")

    code.fill(guest.code.lower())
    page.get_by_role("button", name="Registrar llegada").click()
    welcome = page.get_by_role("status").filter(has_text="Bienvenido")
    expect(welcome).to_contain_text(f"¡Bienvenido/a, {guest.name}!")
    expect(page.locator("#door-refusal")).to_be_empty()
    expect(code).to_have_value("")
    assert focused(page) == "door-code"
    expect(page.locator("#door-arrived")).to_contain_text(guest.name)
    assert status_of(console, guest) == "checked_in"
    check_accessibility(page, what="door scanner on a phone, welcome")
    screenshot(page, "scanner-phone", console)

    code.fill(guest.code)
    code.press("Enter")
    expect(refusal).to_contain_text("Ya ha llegado")


def test_the_page_is_for_the_restaurants_own_staff(console: Console, door: Door) -> None:
    """Another restaurant's host gets 404 on the page and its data requests."""
    outsider = console.person(door.elsewhere, "host")
    with httpx.Client(base_url=console.base, timeout=10) as client:
        form = client.get("/console/sign-in")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed = client.post(
            "/console/sign-in",
            data={"csrf": csrf, "email": outsider.email, "password": outsider.password},
        )
        assert signed.status_code in {200, 303}
        for path in ("", "/arrived"):
            assert client.get(f"/console/r/{door.here}/door{path}").status_code == 404
        home = client.get(f"/console/r/{door.elsewhere}/door")
        token = home.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = client.post(
            f"/console/r/{door.here}/door", data={"csrf": token, "code": "ABCD2345"}
        )
        assert refused.status_code == 404
