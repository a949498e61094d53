"""The live feed across real OS processes: two ``saveit serve`` API processes and a
``saveit worker`` on a fresh PostgreSQL database and a real Redis.

Each test gets its own database and its own event stream name, so nothing it
sees comes from another test. Under ``CI=true`` a missing PostgreSQL or Redis
fails the run instead of skipping it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from psycopg import sql
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from saveit.admin.setup import apply_spec, parse_document
from saveit.store import tokens
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.restaurants import id_of
from tests.e2e.chaos_support import Processes, free_port, missing
from tests.integration.conftest import TcpProxy
from tests.support import demo_document

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

SAVEIT = [sys.executable, "-m", "saveit.cli"]
PG_BASE = os.environ.get("SAVEIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SAVEIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN = "live-admin-token"
WAIT_S = 5.0  # "within a couple of seconds", with room for a loaded CI machine


@pytest.fixture(scope="module")
def redis_server() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing("Redis", str(exc))
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def stream(redis_server: str) -> Iterator[str]:
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    yield f"{prefix}:events"
    client = redis.Redis.from_url(redis_server, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass
class Site:
    """A fresh database with the demo restaurant, a host token for it and one for another."""

    url: str
    host_token: str
    stranger_token: str


@pytest.fixture
def site() -> Iterator[Site]:
    name = f"saveit_live_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        missing("PostgreSQL", str(exc).strip())
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{PG_BASE.rpartition('/')[0]}/{name}"
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        apply_spec(engine, parse_document(demo_document()))
        apply_spec(engine, parse_document(demo_document(slug="other", name="Other")))
        now = datetime.now(UTC)
        with engine.begin() as conn:
            host = tokens.issue(conn, id_of(conn, "demo"), role="host", name="h", now=now)
            stranger = tokens.issue(conn, id_of(conn, "other"), role="owner", name="o", now=now)
    finally:
        engine.dispose()
    yield Site(url, host, stranger)
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop()


def saveit_env(**values: str) -> dict[str, str]:
    """The processes' environment. A test's stream names its Redis prefix too, so
    its rate-limit buckets are its own: with the default prefix, bookings made
    from 127.0.0.1 by tests in other workers counted against this one's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAVEIT_")}
    env.update(SAVEIT_ADMIN_TOKEN=ADMIN, SAVEIT_SECRET_KEY="live-test-secret", **values)
    if "SAVEIT_EVENTS_STREAM" in values:
        env.setdefault("SAVEIT_REDIS_PREFIX", values["SAVEIT_EVENTS_STREAM"].rsplit(":", 1)[0])
    return env


@pytest.fixture
def cluster(site: Site, stream: str, processes: Processes) -> tuple[str, str]:
    """API processes A and B and one worker, on PostgreSQL and Redis."""
    env = saveit_env(
        SAVEIT_DATABASE_URL=site.url,
        SAVEIT_REDIS_URL=REDIS_URL,
        SAVEIT_EVENTS_STREAM=stream,
    )
    processes.start("worker", ["worker"], env)
    return processes.serve("api-a", env), processes.serve("api-b", env)


# --- helpers --------------------------------------------------------------------------


def booking_day(offset: int = 3) -> date:
    return datetime.now(UTC).date() + timedelta(days=offset)


def book(base: str, day: date, at: str = "21:00", *, name: str = "Ana") -> dict[str, Any]:
    made = httpx.post(
        f"{base}/v1/restaurants/demo/reservations",
        json={
            "date": day.isoformat(),
            "time": at,
            "party_size": 2,
            "name": name,
            "email": f"{uuid.uuid4().hex[:10]}@example.com",
        },
        timeout=10,
    )
    assert made.status_code == 201, made.text
    reservation: dict[str, Any] = made.json()["reservation"]
    return reservation


def ws_url(base: str, query: str, slug: str = "demo") -> str:
    return f"{base.replace('http://', 'ws://')}/v1/restaurants/{slug}/live?{query}"


@contextmanager
def live(base: str, token: str, query: str = "", slug: str = "demo") -> Iterator[ClientConnection]:
    """A subscriber as a browser is one: the token in the first frame, not the URL."""
    with connect(ws_url(base, query, slug), open_timeout=5) as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        yield ws


def receive(ws: ClientConnection, timeout: float = WAIT_S) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def receive_until(
    ws: ClientConnection, done: Callable[[list[dict[str, Any]]], bool], timeout: float = WAIT_S
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; received {got}")
        got.append(receive(ws, remaining))
    return got


def changes_of(code: str) -> Callable[[list[dict[str, Any]]], bool]:
    """Done once the reservation event for ``code`` and its availability message arrived."""

    def done(got: list[dict[str, Any]]) -> bool:
        types = [m["type"] for m in got if m.get("reservation", {}).get("code") == code]
        return "reservation.created" in types and any(
            m["type"] == "availability.changed" for m in got
        )

    return done


def quiet(ws: ClientConnection, for_s: float = 0.7) -> list[str]:
    """Whatever else arrives in ``for_s`` seconds (expected: nothing)."""
    extra: list[str] = []
    deadline = time.monotonic() + for_s
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            extra.append(str(ws.recv(timeout=remaining)))
        except TimeoutError:
            break
    return extra


# --- tests ----------------------------------------------------------------------------


def test_a_booking_on_process_a_reaches_a_websocket_subscriber_on_process_b(
    cluster: tuple[str, str], site: Site
) -> None:
    a, b = cluster
    day = booking_day()
    with live(b, site.host_token, f"date={day}") as ws:
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["date"] == day.isoformat()
        assert snapshot["reservations"] == []
        made = book(a, day)
        got = receive_until(ws, changes_of(made["code"]))
    created = next(m for m in got if m["type"] == "reservation.created")
    assert created["reservation"]["code"] == made["code"]
    assert created["restaurant"] == "demo"
    assert created["position"] > snapshot["position"]
    availability = next(m for m in got if m["type"] == "availability.changed")
    assert availability == {
        "type": "availability.changed",
        "position": created["position"],
        "event_id": created["event_id"],
        "restaurant": "demo",
        "date": day.isoformat(),
    }


def test_reconnecting_with_since_gets_exactly_the_missed_events(
    cluster: tuple[str, str], site: Site
) -> None:
    a, b = cluster
    day = booking_day(4)
    with live(b, site.host_token) as ws:
        receive(ws)  # snapshot
        first = book(a, day, "20:00")
        seen = receive_until(ws, changes_of(first["code"]))
    last = max(m["position"] for m in seen)
    missed = [book(a, day, at, name=f"G{at}")["code"] for at in ("20:15", "20:30")]
    missed.append(book(a, booking_day(5), "13:00")["code"])  # another day, same restaurant
    with live(b, site.host_token, f"since={last}") as ws:
        replayed = receive_until(
            ws, lambda got: len([m for m in got if m["type"] == "reservation.created"]) == 3
        )
        replayed += [json.loads(m) for m in quiet(ws)]
    created = [m for m in replayed if m["type"] == "reservation.created"]
    assert [m["reservation"]["code"] for m in created] == missed
    assert all(m["type"] != "snapshot" for m in replayed)
    assert [m["date"] for m in replayed if m["type"] == "availability.changed"] == [
        day.isoformat(),
        day.isoformat(),
        booking_day(5).isoformat(),
    ]
    positions = [m["position"] for m in created]
    assert positions == sorted(positions)
    assert positions[0] > last


def test_an_unknown_position_gets_a_snapshot(cluster: tuple[str, str], site: Site) -> None:
    a, b = cluster
    day = booking_day(6)
    made = book(a, day)
    with live(b, site.host_token, f"since=999999999&date={day}") as ws:
        snapshot = receive(ws)
    assert snapshot["type"] == "snapshot"
    assert [r["code"] for r in snapshot["reservations"]] == [made["code"]]


def test_sse_streams_with_positions_and_resumes_from_last_event_id(
    cluster: tuple[str, str], site: Site
) -> None:
    a, b = cluster
    day = booking_day(7)
    url = f"{b}/v1/restaurants/demo/live/sse"
    headers = {"Authorization": f"Bearer {site.host_token}"}
    with httpx.stream("GET", url, headers=headers, timeout=WAIT_S) as live:
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("text/event-stream")
        events = sse_events(live.iter_lines())
        snapshot_id, snapshot = next(events)
        assert snapshot["type"] == "snapshot"
        assert snapshot_id == snapshot["position"]
        made = book(a, day)
        _, created = next(events)
        event_id, availability = next(events)
    assert created["type"] == "reservation.created"
    assert created["reservation"]["code"] == made["code"]
    assert availability["type"] == "availability.changed"
    assert event_id == created["position"]  # the id comes with the event's last message
    later = book(a, day, "21:15", name="Later")
    resumed = {**headers, "Last-Event-ID": str(event_id)}
    with httpx.stream("GET", url, headers=resumed, timeout=WAIT_S) as live:
        events = sse_events(live.iter_lines())
        kinds = [next(events)[1] for _ in range(2)]
    assert [m["type"] for m in kinds] == ["reservation.created", "availability.changed"]
    assert kinds[0]["reservation"]["code"] == later["code"]


def sse_events(lines: Iterator[str]) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """(last event id so far, data) per message, as a browser's EventSource tracks it."""
    event_id: int | None = None
    for line in lines:
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])


def test_subscribers_without_a_staff_token_of_the_restaurant_are_refused(
    cluster: tuple[str, str], site: Site
) -> None:
    _, b = cluster
    for token, code in (("", 4401), ("not-a-token", 4401), (site.stranger_token, 4403)):
        with live(b, token) as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)
        assert ws.close_code == code, token
    with live(b, ADMIN, slug="nope") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)
        assert ws.close_code == 4404
    sse = f"{b}/v1/restaurants/demo/live/sse"
    assert httpx.get(sse, timeout=5).status_code == 401
    stranger = {"Authorization": f"Bearer {site.stranger_token}"}
    refused = httpx.get(sse, headers=stranger, timeout=5)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    with live(b, ADMIN) as ws:
        assert receive(ws)["type"] == "snapshot"  # the admin token sees every restaurant


def test_with_redis_unreachable_updates_flow_through_the_database(
    site: Site, processes: Processes
) -> None:
    env = saveit_env(
        SAVEIT_DATABASE_URL=site.url, SAVEIT_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    processes.start("worker", ["worker"], env)
    a, b = processes.serve("api-a", env), processes.serve("api-b", env)
    with live(b, site.host_token) as ws:
        assert receive(ws)["type"] == "snapshot"
        made = book(a, booking_day(8))
        got = receive_until(ws, changes_of(made["code"]))
    assert any(m["type"] == "reservation.created" for m in got)
    assert "polling the outbox" in processes.logs()


def test_the_embedded_default_delivers_in_one_process_without_redis(
    tmp_path: Path, processes: Processes
) -> None:
    data = tmp_path / "data"
    engine = create_db_engine(f"sqlite:///{data / 'saveit.db'}")
    upgrade(engine)
    apply_spec(engine, parse_document(demo_document()))
    engine.dispose()
    base = processes.serve("embedded", saveit_env(SAVEIT_DATA_DIR=str(data)))
    with live(base, ADMIN) as ws:
        assert receive(ws)["type"] == "snapshot"
        made = book(base, booking_day(9))
        got = receive_until(ws, changes_of(made["code"]))
    assert got[0]["type"] == "reservation.created"


def test_the_feed_survives_a_redis_outage_and_returns_to_redis(
    site: Site, stream: str, processes: Processes
) -> None:
    proxy = TcpProxy(urlsplit(REDIS_URL).port or 6379)
    proxy.up()
    try:
        direct = saveit_env(
            SAVEIT_DATABASE_URL=site.url, SAVEIT_REDIS_URL=REDIS_URL, SAVEIT_EVENTS_STREAM=stream
        )
        via_proxy = {**direct, "SAVEIT_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"}
        processes.start("worker", ["worker"], direct)
        a, b = processes.serve("api-a", direct), processes.serve("api-b", via_proxy)
        codes: list[str] = []
        got: list[dict[str, Any]] = []
        with live(b, site.host_token) as ws:
            receive(ws)  # snapshot
            for step, at in enumerate(("20:00", "20:15", "20:30")):
                if step == 1:
                    proxy.down()  # B loses Redis; A and the worker keep it
                if step == 2:
                    proxy.up()
                    wait_for_log(processes, "is back; leaving the database path")
                codes.append(book(a, booking_day(10), at, name=f"S{step}")["code"])
                got += receive_until(ws, changes_of(codes[-1]))
            got += [json.loads(m) for m in quiet(ws, 1.5)]
    finally:
        proxy.down()
    created = [m["reservation"]["code"] for m in got if m["type"] == "reservation.created"]
    assert created == codes  # each once: the Redis backlog after recovery was deduplicated
    assert "polling the outbox" in processes.logs()


def wait_for_log(processes: Processes, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in processes.logs():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in the logs:\n{processes.logs()}")
        time.sleep(0.1)
