"""The console's browser harness: a real SaveIt server under uvicorn on a loopback
port, on SQLite and on PostgreSQL + Redis (each test runs on both), headless
Chromium through Playwright, and helpers every console page's tests reuse:

* ``console`` — the running server (``base`` URL, ``backend``) and ``people``, which
  creates staff accounts straight through the accounts service.
* ``page`` — a fresh tablet-sized page; a script error or CSP violation fails the test.
  ``new_page(viewport=PHONE)`` for more (two browsers on one screen, a phone).
* :func:`sign_in` — the sign-in form, as a person fills it.
* :func:`screenshot` — a PNG in ``artifacts/console/`` (git-ignored; named in the README).
* :func:`check_accessibility` — axe-core on the page as it is now; any serious or
  critical violation fails the test.

Under ``CI=true`` a missing Chromium, Playwright, PostgreSQL or Redis fails the run
instead of skipping it. ``SAVEIT_TEST_CHROMIUM`` overrides the browser's path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from saveit.accounts import StaffAccounts
from saveit.accounts.passwords import Passwords
from saveit.admin.setup import apply_spec, parse_document
from saveit.booking.service import utc_now
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.unit_of_work import Database
from tests.conftest import APP_ROLE, PG_BASE
from tests.e2e.chaos_support import delete_prefix, free_port, missing, shared_redis
from tests.meta_webhooks import graph_answer
from tests.recording_http import Recorded, RecordingServer, recording_server
from tests.support import demo_document

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "artifacts" / "console"
AXE = REPO / "tests" / "fixtures" / "axe" / "axe.min.js"
CHROMIUM = os.environ.get("SAVEIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
SECRET = "console-e2e-secret-" + "k" * 16
PASSWORD = "correct-horse-battery"
RESTAURANTS = (("demo", "Casa Demo"), ("other", "Otra Casa"))
# Meta: the server verifies webhooks with this app secret and sends through the
# ``graph_api`` stand-in; ``whatsapp_number`` proves demo's number (admin token).
META_APP_SECRET = "console-e2e-meta-app-secret"
ADMIN_TOKEN = "console-e2e-admin-token-" + "a" * 16
WHATSAPP_NUMBER_ID = "109876543210555"


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    password: str


@dataclass
class Console:
    """A running server and a way to add people to its restaurants."""

    base: str
    backend: str
    database_url: str
    graph: RecordingServer | None = None  # the Graph API stand-in the server sends to

    def person(self, slug: str = "demo", role: str = "owner", *, name: str = "") -> Person:
        """A new account with ``role`` at ``slug`` (a fresh email each call)."""
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
        shown = name or f"{role.title()} {email[len(role) + 1 : len(role) + 5]}"
        engine = create_db_engine(self.database_url)
        try:
            StaffAccounts(Database(engine), passwords=Passwords(), clock=utc_now).add(
                slug, email=email, name=shown, role=role, password=PASSWORD
            )
        finally:
            engine.dispose()
        return Person(email, shown, PASSWORD)

    def join(self, person: Person, slug: str, role: str) -> None:
        engine = create_db_engine(self.database_url)
        try:
            StaffAccounts(Database(engine), passwords=Passwords(), clock=utc_now).add(
                slug, email=person.email, name=person.name, role=role, password=None
            )
        finally:
            engine.dispose()


def _seed(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        for slug, name in RESTAURANTS:
            apply_spec(engine, parse_document(demo_document(slug=slug, name=name)))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("console-sqlite")
    url = f"sqlite:///{data / 'saveit.db'}"
    _seed(url)
    return {"SAVEIT_DATA_DIR": str(data), "SAVEIT_DATABASE_URL": url}


@pytest.fixture(scope="session")
def _postgres_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh database owned by the ordinary application role (row-level security
    binds it, as in production) and a private key space on the shared Redis."""
    redis_url = shared_redis()
    name = f"saveit_console_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        missing("PostgreSQL", str(exc).strip())
    with admin:
        admin.execute(
            "DO $$ BEGIN CREATE ROLE saveit_app_test LOGIN NOSUPERUSER NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(APP_ROLE)
            )
        )
    base, _, _ = PG_BASE.rpartition("/")
    host = base.split("@")[-1]
    url = f"postgresql://{APP_ROLE}@{host}/{name}"
    _seed(url)
    prefix = f"saveit-console-test:{uuid.uuid4().hex}"
    data = tmp_path_factory.mktemp("console-postgres")
    yield {
        "SAVEIT_DATA_DIR": str(data),
        "SAVEIT_DATABASE_URL": url,
        "SAVEIT_REDIS_URL": redis_url,
        "SAVEIT_REDIS_PREFIX": prefix,
        "SAVEIT_EVENTS_STREAM": f"{prefix}:events",
        # One process does everything, as the embedded default does.
        "SAVEIT_RELAY_IN_PROCESS": "true",
        "SAVEIT_CHANNEL_WORKERS_IN_API": "true",
    }
    delete_prefix(redis_url, prefix)
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def console(request: pytest.FixtureRequest) -> Iterator[Console]:
    site: dict[str, str] = request.getfixturevalue(f"_{request.param}_site")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(site)
    graph: RecordingServer = request.getfixturevalue("graph_api")
    env.update(
        SAVEIT_META_APP_SECRET=META_APP_SECRET,
        SAVEIT_GRAPH_API_BASE=graph.url,
        SAVEIT_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    env.update(
        SAVEIT_SECRET_KEY=SECRET,
        # Lockout is what the tests exercise; the per-IP limit would trip first, as
        # every test signs in from 127.0.0.1.
        SAVEIT_CONSOLE_SIGNIN_PER_MINUTE="1000",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), str(REPO)])),
    )
    port = free_port()
    log = Path(site["SAVEIT_DATA_DIR"]) / "server.log"
    args = [sys.executable, "-m", "uvicorn", "--factory", "saveit.api.app:create_app_from_env"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the server did not come up:\n{log.read_text()[-4000:]}")
        _whatsapp_account(base)
        yield Console(base, request.param, site["SAVEIT_DATABASE_URL"], graph)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _whatsapp_account(base: str) -> None:
    """Give ``demo`` a WhatsApp number, as the deployment's admin does."""
    answer = httpx.put(
        f"{base}/v1/restaurants/demo/channels/whatsapp",
        json={"phone_number_id": WHATSAPP_NUMBER_ID, "access_token": "console-wa-token"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    launched = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open fresh pages (each its own browser context: its own cookies). Script
    errors and console errors (CSP violations among them) fail the test. Dialogs
    (``hx-confirm``) are accepted."""
    contexts: list[Any] = []
    problems: list[str] = []

    def open_page(*, viewport: dict[str, int] = TABLET, locale: str = "en-GB", **extra: Any) -> Any:
        context = browser.new_context(viewport=viewport, locale=locale, **extra)
        context.add_init_script(path=str(AXE))
        contexts.append(context)
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
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == []


def _expected_status(text: str) -> bool:
    """Chromium logs every 4xx answer as a console error; refusals are what several
    tests are about (401 sign-in, 403, 404, 422 form errors)."""
    return text.startswith("Failed to load resource: the server responded with a status of 4")


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


def sign_in(page: Any, console: Console, person: Person, *, password: str | None = None) -> None:
    """Fill and send the sign-in form; the caller checks where it led."""
    page.goto(f"{console.base}/console/sign-in")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(password if password is not None else person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Any, name: str, console: Console | None = None) -> Path:
    """Save what the page shows now as ``artifacts/console/<name>[-<backend>].png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = f"-{console.backend}" if console is not None else ""
    path = ARTIFACTS / f"{name}{suffix}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_accessibility(page: Any, *, what: str = "") -> None:
    """axe-core (injected into every page by ``new_page``) on the page as it is now:
    fail on any serious or critical violation, naming rule and elements."""
    page.wait_for_load_state()
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in {"serious", "critical"}]
    report = [
        f"{v['impact']} {v['id']}: {v['help']} — "
        + "; ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in bad
    ]
    assert report == [], f"accessibility violations on {what or page.url}:\n" + "\n".join(report)


def _graph(request: Recorded) -> tuple[int, Any]:
    if request.method == "GET":  # proving a number: the token may use it
        return 200, {"id": request.path.split("?")[0].rstrip("/").split("/")[-1]}
    return 200, graph_answer(request.body)


@pytest.fixture(scope="session")
def graph_api() -> Iterator[RecordingServer]:
    """The Meta Graph API stand-in every console server sends WhatsApp messages to;
    ``.requests`` is what it received (all servers of the session share it)."""
    with recording_server(_graph) as server:
        yield server


@pytest.fixture
def whatsapp_number(console: Console) -> str:
    """Demo's WhatsApp number, assigned (and proven) when the server started."""
    return WHATSAPP_NUMBER_ID
