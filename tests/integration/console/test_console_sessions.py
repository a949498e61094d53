"""The console's accounts and sessions through its HTTP pages (the app in-process,
on SQLite and PostgreSQL): cookies, session expiry and revocation, CSRF and
Origin checks, sign-in limits, the owner rule, and the two languages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.console import i18n
from saveit.console.services import ConsoleServices
from saveit.domain import errors
from tests.support import FakeClock, demo_document

PASSWORD = "correct-horse-battery"


@pytest.fixture(params=[{}], ids=["defaults"])
def app_services(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> Iterator[tuple[Container, object]]:
    update = {"console_signin_per_minute": 1000, **request.param}
    container = build(settings.model_copy(update=update), clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    apply_spec(container.engine, parse_document(demo_document(slug="other", name="Otra")))
    yield container, create_app(container)
    container.close()


@pytest.fixture
def app(app_services: tuple[Container, object]) -> object:
    return app_services[1]


@pytest.fixture
def services(app: object) -> ConsoleServices:
    return app.state.console  # type: ignore[attr-defined, no-any-return]


def _client(app: object, base: str = "http://127.0.0.1") -> TestClient:
    return TestClient(app, base_url=base)  # type: ignore[arg-type]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient, email: str, password: str = PASSWORD, **headers: str):  # type: ignore[no-untyped-def]
    form = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"csrf": _csrf(form.text), "email": email, "password": password},
        headers=headers,
        follow_redirects=False,
    )


def test_the_session_cookie_is_httponly_lax_and_secure_off_loopback(
    app: object, services: ConsoleServices
) -> None:
    services.staff.add("demo", email="o@example.com", name="O", role="owner", password=PASSWORD)
    with _client(app) as local:
        signed = _sign_in(local, "o@example.com")
        cookie = signed.headers["set-cookie"]
        assert signed.status_code == 303
        assert "saveit_console=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie.split("saveit_console_pre")[0]
        page = local.get("/console/r/demo")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
    with _client(app, "https://console.example.com") as remote:
        signed = _sign_in(remote, "o@example.com")
        assert signed.headers["set-cookie"].startswith("__Host-saveit_console=")
        assert "Secure" in signed.headers["set-cookie"]
        assert remote.get("/console/r/demo").status_code == 200


def test_sessions_end_when_idle_when_old_and_when_the_password_is_reset(
    app: object, services: ConsoleServices, clock: FakeClock
) -> None:
    services.staff.add("demo", email="h@example.com", name="H", role="host", password=PASSWORD)
    with _client(app) as client:
        assert _sign_in(client, "h@example.com").status_code == 303
        assert client.get("/console/r/demo").status_code == 200
        clock.advance(minutes=121)  # SAVEIT_CONSOLE_IDLE_MINUTES = 120
        gone = client.get("/console/r/demo", follow_redirects=False)
        assert gone.status_code == 303
        assert gone.headers["location"] == "/console/sign-in?next=/console/r/demo"

        assert _sign_in(client, "h@example.com").status_code == 303
        for _ in range(13):  # active all along, but past the 12-hour lifetime
            clock.advance(minutes=60)
            client.get("/console/r/demo")
        assert client.get("/console/r/demo", follow_redirects=False).status_code == 303

        assert _sign_in(client, "h@example.com").status_code == 303
        services.staff.reset_password("h@example.com", "a-brand-new-password")
        assert client.get("/console/r/demo", follow_redirects=False).status_code == 303
        assert _sign_in(client, "h@example.com").status_code == 401
        assert _sign_in(client, "h@example.com", "a-brand-new-password").status_code == 303


def test_signing_in_needs_the_forms_token_and_a_same_site_origin(
    app: object, services: ConsoleServices
) -> None:
    services.staff.add("demo", email="o@example.com", name="O", role="owner", password=PASSWORD)
    with _client(app) as client:
        client.get("/console/sign-in")
        forged = client.post(
            "/console/sign-in",
            data={"csrf": "f" * 64, "email": "o@example.com", "password": PASSWORD},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        cross = _sign_in(client, "o@example.com", Origin="https://evil.example")
        assert cross.status_code == 403
        assert _sign_in(client, "o@example.com").status_code == 303
        page = client.get("/console/r/demo/staff")
        token = _csrf(page.text)
        cross_post = client.post(
            "/console/r/demo/staff",
            data={"csrf": token, "email": "x@example.com", "name": "X", "role": "host"},
            headers={"Origin": "https://evil.example"},
        )
        assert cross_post.status_code == 403
        as_json = client.post(
            "/console/r/demo/staff",
            json={"csrf": token, "email": "x@example.com", "name": "X", "role": "host"},
        )
        assert as_json.status_code == 400
        assert [m.email for m in services.staff.members("demo")] == ["o@example.com"]


@pytest.mark.parametrize(
    "app_services", [{"console_signin_per_minute": 3}], ids=["3-per-minute"], indirect=True
)
def test_sign_in_attempts_are_limited_per_ip(app: object, services: ConsoleServices) -> None:
    with _client(app) as client:
        answers = [
            _sign_in(client, f"nobody{i}@example.com", "whatever-password").status_code
            for i in range(4)
        ]
    assert answers == [401, 401, 401, 429]  # SAVEIT_CONSOLE_SIGNIN_PER_MINUTE=3 here


def test_a_restaurant_keeps_one_owner_and_refusals_show_the_services_message(
    app: object, services: ConsoleServices
) -> None:
    services.staff.add("demo", email="o@example.com", name="O", role="owner", password=PASSWORD)
    with _client(app) as client:
        _sign_in(client, "o@example.com")
        page = client.get("/console/r/demo/staff")
        me = services.staff.members("demo")[0].account_id
        refused = client.post(
            f"/console/r/demo/staff/{me}/role",
            data={"csrf": _csrf(page.text), "role": "host"},
            headers={"HX-Request": "true"},
        )
        assert refused.status_code == 422
        assert "A restaurant keeps at least one owner" in refused.text
        assert refused.text.lstrip().startswith('<div id="staff-panel">')  # the fragment
        bad_email = client.post(
            "/console/r/demo/staff",
            data={"csrf": _csrf(page.text), "email": "not an email", "name": "X", "role": "host"},
        )
        assert bad_email.status_code == 422
        assert "This is not a valid email address" in bad_email.text
        assert 'aria-invalid="true"' in bad_email.text


def test_two_owners_removing_each_other_at_once_leave_one_owner(
    services: ConsoleServices,
) -> None:
    """Each removal counts the owners, then removes. Fails without the lock on
    the owners' rows (``store.staff_accounts.owner_count``): on PostgreSQL both
    counted two owners and both went ahead, and the restaurant had none."""
    staff = services.staff
    staff.add("demo", email="a@example.com", name="A", role="owner", password=PASSWORD)
    staff.add("demo", email="b@example.com", name="B", role="owner", password=PASSWORD)
    ids = {m.email: m.account_id for m in staff.members("demo")}
    for _ in range(15):
        start = threading.Barrier(2)
        refused: list[str] = []

        def remove(account_id: int, start: threading.Barrier, refused: list[str]) -> None:
            start.wait()
            try:
                staff.remove("demo", account_id)
            except errors.Conflict as exc:
                refused.append(exc.detail)

        threads = [
            threading.Thread(target=remove, args=(ids[email], start, refused))
            for email in ("a@example.com", "b@example.com")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        owners = [m.email for m in staff.members("demo") if m.role == "owner"]
        assert len(owners) == 1, owners
        assert len(refused) == 1
        [gone] = {"a@example.com", "b@example.com"} - set(owners)
        staff.add("demo", email=gone, name=gone[0].upper(), role="owner", password=None)


def test_a_person_is_served_in_their_language_or_the_browsers(
    app: object, services: ConsoleServices
) -> None:
    with _client(app) as client:
        english = client.get("/console/sign-in", headers={"Accept-Language": "en-GB,en;q=0.8"})
        assert '<html lang="en">' in english.text
        spanish = client.get("/console/sign-in", headers={"Accept-Language": "es-ES,es;q=0.9"})
        assert '<html lang="es">' in spanish.text
        neither = client.get("/console/sign-in", headers={"Accept-Language": "de-DE"})
        assert '<html lang="es">' in neither.text
        services.staff.add("demo", email="o@example.com", name="O", role="owner", password=PASSWORD)
        _sign_in(client, "o@example.com")
        home = client.get("/console/r/demo", headers={"Accept-Language": "en"})
        client.post(
            "/console/account/language",
            data={"csrf": _csrf(home.text), "language": "es", "next": "/console/r/demo"},
        )
        again = client.get("/console/r/demo", headers={"Accept-Language": "en"})
        assert '<html lang="es">' in again.text
        assert "Resumen" in again.text


def test_every_message_exists_in_both_languages() -> None:
    catalogue = i18n.catalogue()
    assert set(catalogue["es"]) == set(catalogue["en"])
    assert all(catalogue["es"].values())
    assert all(catalogue["en"].values())
