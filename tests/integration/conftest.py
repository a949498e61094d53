"""Event-bus fixtures: a real Redis, one throwaway stream per test, both bus adapters.

Under ``CI=true`` an unreachable Redis fails the run instead of skipping it, as
``tests/conftest.py`` does for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.channels.email.inbound import serve
from saveit.config import Settings
from saveit.domain.commands import Actor, CreateReservation, GuestDetails
from saveit.events import Bus, InProcessBus, RedisStreamsBus
from saveit.store import channel_accounts as accounts
from saveit.store import restaurants as restaurant_store
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_channels_email_smtp import CaptureHandler, free_port
from tests.recording_http import RecordingServer, recording_server
from tests.support import FakeClock, demo_document

REDIS_URL = os.environ.get("SAVEIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
GUEST = Actor("guest", "web", "webchat")
STAFF = Actor("staff", "ana", "dashboard")


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required under CI=true: {exc}", pytrace=False)
        pytest.skip(f"Redis not reachable: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_stream(redis_url: str) -> Iterator[str]:
    """A stream name no other test uses; every key under its prefix is deleted afterwards."""
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    yield f"{prefix}:events"
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=2)
    yield client
    client.close()


BusFactory = Callable[..., Bus]


@pytest.fixture(params=["inprocess", "redis"])
def make_bus(request: pytest.FixtureRequest) -> Iterator[BusFactory]:
    """Builds buses of one kind; Redis ones share the test's stream (``url`` overrides
    the server, e.g. a dead port). Every bus built is closed afterwards."""
    built: list[Bus] = []
    if request.param == "inprocess":
        shared = InProcessBus()

        def factory(url: str | None = None, **_: Any) -> Bus:
            return shared

    else:
        stream: str = request.getfixturevalue("redis_stream")
        default_url: str = request.getfixturevalue("redis_url")

        def factory(url: str | None = None, **kwargs: Any) -> Bus:
            bus = RedisStreamsBus(url or default_url, stream=stream, **kwargs)
            built.append(bus)
            return bus

    yield factory
    for bus in built:
        bus.close()


@pytest.fixture
def make_bookings(container: Container, demo: str) -> Callable[[int], list[str]]:
    """Makes ``n`` real bookings (one per day) plus a cancellation and a confirmation;
    returns the event types the outbox should now hold, in order."""

    def make(n: int) -> list[str]:
        types: list[str] = []
        codes: list[str] = []
        for i in range(n):
            start = datetime(2026, 6, 3, 19, 0, tzinfo=UTC) + timedelta(days=i)
            made = container.booking.create(
                CreateReservation(demo, start, 2, GuestDetails(name=f"G{i}", phone=f"6001{i:05d}")),
                GUEST,
            )
            codes.append(made.reservation.code)
            types.append("reservation.created")
        if n >= 2:
            container.booking.cancel(codes[0], STAFF, reason="test")
            types.append("reservation.cancelled")
            container.booking.check_in(codes[1], STAFF)
            types.append("reservation.checked_in")
        return types

    return make


class TcpProxy:
    """A switchable TCP proxy in front of Redis: ``down()`` drops every connection
    and refuses new ones, ``up()`` serves again on the same port — an outage as
    the same client sees it."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = 0
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            doomed, self._sockets = self._sockets, []
            if self._server is not None:
                doomed.append(self._server)
                self._server = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                # A connection accepted just before down() must not outlive it.
                alive = self._server is server
                if alive:
                    self._sockets += [client, upstream]
            if not alive:
                for sock in (client, upstream):
                    sock.close()
                return
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(urlsplit(redis_url).port or 6379)
    proxy.up()
    yield proxy
    proxy.down()


@contextlib.contextmanager
def channel_app(
    settings: Settings,
    clock: FakeClock,
    accounts: dict[str, dict[str, str]],
    *,
    base_url: str = "http://testserver",
    **overrides: Any,
) -> Iterator[tuple[TestClient, Container]]:
    """The app on the demo restaurant with channel settings and accounts, answering
    guests itself (as the embedded default does) with its channel workers polling
    fast, so replies show up within a test's patience."""
    update = {"channel_worker_poll_s": 0.02, "channel_workers_in_api": True, **overrides}
    configured = settings.model_copy(update=update)
    container = build(configured, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(container), base_url=base_url) as client:
        for channel, body in accounts.items():
            put = client.put(f"/v1/restaurants/demo/channels/{channel}", json=body, headers=admin)
            assert put.status_code == 200, put.text
        yield client, container


EMAIL_HOST = "127.0.0.1"
EMAIL_ADDRESS = "reservas@demo.example"


@pytest.fixture
def relay() -> Iterator[tuple[CaptureHandler, int]]:
    """A capturing SMTP server standing in for the restaurant's outbound relay."""
    handler = CaptureHandler()
    controller = Controller(
        handler, hostname=EMAIL_HOST, port=free_port(), server_hostname="relay.test"
    )
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def mail(
    settings: Settings, clock: FakeClock, relay: tuple[CaptureHandler, int]
) -> Iterator[tuple[Container, int]]:
    """The demo restaurant reachable at ``EMAIL_ADDRESS`` through a real SMTP server
    (returned: the container and the server's port), replying through ``relay``."""
    configured = settings.model_copy(
        update={
            "smtp_relay_host": EMAIL_HOST,
            "smtp_relay_port": relay[1],
            "smtp_relay_starttls": False,
        }
    )
    container = build(configured, clock=clock, migrate=False)
    apply_spec(container.engine, parse_document(demo_document()))
    with container.engine.begin() as conn:
        accounts.put(
            conn,
            restaurant_store.id_of(conn, "demo"),
            "email",
            EMAIL_ADDRESS,
            {},
            clock(),
            box=container.box,
            proven_by="admin",
        )
    assert container.gateway is not None
    server = serve(container.gateway, configured, host=EMAIL_HOST, port=0)
    yield container, server.port
    server.stop()
    container.close()


TWILIO_SID = "AC5e0c2b7d9f1a3c5e7b9d1f3a5c7e9b1d"
TWILIO_TOKEN = "twilio-test-auth-token"
TWILIO_PUBLIC = "https://book.example.com"


@pytest.fixture
def twilio_api() -> Iterator[RecordingServer]:
    """The Twilio REST API's stand-in: every send is accepted with a fresh SID."""
    sent = itertools.count(1)
    with recording_server(
        lambda r: (201, {"sid": f"SM{next(sent):032x}", "status": "queued"})
    ) as server:
        yield server


@pytest.fixture
def sms_app(
    settings: Settings, clock: FakeClock, twilio_api: RecordingServer
) -> Iterator[tuple[TestClient, Container]]:
    """The demo restaurant on SMS number +34910000000, behind a TLS proxy whose
    public URL Twilio signs."""
    with channel_app(
        settings,
        clock,
        {"sms": {"number": "+34910000000"}},
        base_url="http://internal:8000",  # what the app sees behind the TLS proxy
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=SecretStr(TWILIO_TOKEN),
        twilio_api_base=twilio_api.url,
        public_base_url=TWILIO_PUBLIC,
    ) as running:
        yield running
