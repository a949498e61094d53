"""The staff console's foundation in a real browser: signing in and out, lockout,
the shell, the Staff page, roles and restaurants kept apart, and an axe-core
check on every page — on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.e2e.console.conftest import (
    PHONE,
    Console,
    check_accessibility,
    screenshot,
    sign_in,
)
from tests.support import weekday_ahead_es

pytestmark = pytest.mark.timeout(240)


def test_an_owner_signs_in_sees_the_shell_and_signs_out(console: Console, page: Any) -> None:
    from playwright.sync_api import expect

    owner = console.person("demo", "owner")
    page.goto(f"{console.base}/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_accessibility(page, what="sign-in")
    screenshot(page, "sign-in", console)

    sign_in(page, console, owner)
    expect(page).to_have_url(f"{console.base}/console/r/demo")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link")).to_have_text(
        ["Overview", "Tonight", "Door", "Inbox", "Guests", "Analytics", "Setup", "Staff"]
    )
    expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    check_accessibility(page, what="home")
    screenshot(page, "shell", console)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.goto(f"{console.base}/console/r/demo")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console/r/demo"))


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    console: Console, page: Any
) -> None:
    from playwright.sync_api import expect

    host = console.person("demo", "host")
    sign_in(page, console, host, password="not-the-password")
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("not right")
    wrong_password = refusal.inner_text()
    check_accessibility(page, what="sign-in with an error")
    stranger = type(host)("nobody-here@example.com", "Nobody", host.password)
    sign_in(page, console, stranger)
    expect(page.get_by_role("alert")).to_have_text(wrong_password)
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_five_failures_lock_the_account_even_for_the_right_password(
    console: Console, page: Any
) -> None:
    from playwright.sync_api import expect

    host = console.person("demo", "host")
    for _ in range(5):
        sign_in(page, console, host, password="guessing-wrong")
        expect(page.get_by_role("alert")).to_be_visible()
    sign_in(page, console, host)  # the right password, now refused
    expect(page.get_by_role("alert")).to_contain_text("paused")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_a_host_cannot_open_the_staff_page(console: Console, page: Any) -> None:
    from playwright.sync_api import expect

    host = console.person("demo", "host")
    sign_in(page, console, host)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link")).to_have_text(["Overview", "Tonight", "Door", "Inbox", "Guests"])
    answer = page.goto(f"{console.base}/console/r/demo/staff")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_text("You do not have access to this page.")).to_be_visible()
    check_accessibility(page, what="403")
    fragment = page.request.get(f"{console.base}/console/r/demo/staff/panel")
    assert fragment.status == 403


def test_staff_of_one_restaurant_never_see_another(console: Console, page: Any) -> None:
    from playwright.sync_api import expect

    owner = console.person("demo", "owner")
    other_owner = console.person("other", "owner", name="Secret Person")
    sign_in(page, console, owner)
    for path in ("", "/staff", "/staff/panel"):
        answer = page.goto(f"{console.base}/console/r/other{path}")
        assert answer is not None
        assert answer.status == 404, path
        expect(page.get_by_text("Secret Person")).to_have_count(0)
        assert "Otra Casa" not in page.content()
    posted = page.request.post(
        f"{console.base}/console/r/other/staff",
        form={"name": "Mole", "email": "mole@example.com", "role": "owner"},
        headers={"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content")},
    )
    assert posted.status == 404
    assert other_owner.email not in page.content()


def test_a_form_without_its_csrf_token_is_refused(console: Console, page: Any) -> None:
    owner = console.person("demo", "owner")
    sign_in(page, console, owner)
    refused = page.request.post(
        f"{console.base}/console/r/demo/staff",
        form={"name": "Ana", "email": "ana-csrf@example.com", "role": "host"},
    )
    assert refused.status == 403
    forged = page.request.post(
        f"{console.base}/console/r/demo/staff",
        form={"name": "Ana", "email": "ana-csrf@example.com", "role": "host", "csrf": "0" * 64},
    )
    assert forged.status == 403
    # Without the browser's cookie, nothing is accepted either.
    anonymous = httpx.post(
        f"{console.base}/console/sign-out", data={"csrf": "x"}, follow_redirects=False
    )
    assert anonymous.status_code == 303
    assert "ana-csrf@example.com" not in page.goto(f"{console.base}/console/r/demo/staff").text()


def test_an_owner_adds_a_host_who_signs_in_with_the_temporary_password(
    console: Console, new_page: Any
) -> None:
    from playwright.sync_api import expect

    owner = console.person("demo", "owner")
    page = new_page()
    sign_in(page, console, owner)
    page.get_by_role("link", name="Staff").first.click()
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    check_accessibility(page, what="staff")
    email = f"hugo-{console.backend}-{id(page)}@example.com"
    page.get_by_label("Name").fill("Hugo Host")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role", exact=True).select_option("host")
    page.get_by_role("button", name="Add to the staff").click()
    secret = page.locator("#temporary-password")
    expect(secret).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Hugo Host"))).to_be_visible()
    temporary = secret.inner_text()
    check_accessibility(page, what="staff after adding")
    screenshot(page, "staff", console)

    # Adding the same person again is refused in place, with the service's message.
    page.get_by_label("Name").fill("Hugo Host")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Add to the staff").click()
    expect(page.get_by_role("alert")).to_have_text("This person is already on the staff")

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    newcomer = type(owner)(email, "Hugo Host", temporary)
    sign_in(phone, console, newcomer)
    expect(phone).to_have_url(f"{console.base}/console/account/password")
    check_accessibility(phone, what="password (phone)")
    phone.get_by_label("Current password").fill(temporary)
    phone.get_by_label("New password", exact=True).fill("hugo-own-password")
    phone.get_by_label("New password again").fill("hugo-own-password")
    phone.get_by_role("button", name="Save the password").click()
    expect(phone).to_have_url(f"{console.base}/console/r/demo")
    screenshot(phone, "shell-phone", console)

    # The owner makes Hugo a manager, then removes him: his session ends.
    row = page.get_by_role("row", name=re.compile("Hugo Host"))
    row.get_by_label("Change role of Hugo Host").select_option("manager")
    row.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status")).to_contain_text("Hugo Host is now Manager")
    page.get_by_role("button", name="Remove Hugo Host from the staff").click()
    expect(page.get_by_role("status")).to_contain_text("Hugo Host is no longer on the staff")
    expect(page.get_by_role("row", name=re.compile("Hugo Host"))).to_have_count(0)
    phone.reload()
    expect(phone).to_have_url(re.compile(r"/console/sign-in"))


def test_a_person_of_two_restaurants_chooses_and_switches_language(
    console: Console, page: Any
) -> None:
    from playwright.sync_api import expect

    person = console.person("demo", "manager", name="Marta Both")
    console.join(person, "other", "host")
    sign_in(page, console, person)
    expect(page).to_have_url(f"{console.base}/console/choose")
    expect(page.get_by_role("link", name=re.compile("Casa Demo"))).to_be_visible()
    check_accessibility(page, what="chooser")
    page.get_by_role("link", name=re.compile("Otra Casa")).click()
    expect(page).to_have_url(f"{console.base}/console/r/other")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change language").click()
    expect(page.get_by_role("heading", name="Resumen")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check_accessibility(page, what="home in Spanish")


def test_the_guest_chat_page_with_the_widget_open_passes_axe(
    console: Console, new_page: Any
) -> None:
    from playwright.sync_api import expect

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-ES")
    phone.goto(f"{console.base}/chat/demo")
    check_accessibility(phone, what="chat page")
    phone.locator(".launcher").tap()
    expect(phone.locator(".panel")).to_be_visible()
    phone.locator(".input").fill(f"Hola, ¿tenéis mesa para dos el {weekday_ahead_es()}?")
    phone.locator(".input").press("Enter")
    expect(phone.locator(".msg.out .text")).to_contain_text(["¿A qué hora?"], timeout=15_000)
    expect(phone.locator(".msg.pending")).to_have_count(0, timeout=15_000)
    check_accessibility(phone, what="chat widget open, with messages")
