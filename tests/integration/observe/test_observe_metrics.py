"""Every metric family, scraped from ``/metrics`` after real requests and real work.

Counters live in the process (as in production), so each test reads a scrape
before and after and checks the difference its own actions made."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.domain.events import Event
from saveit.events.consumer import Consumer
from saveit.events.processed import MemoryProcessedStore
from saveit.resilience import CircuitBreaker
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_webhooks_meta import SECRET, WA_NUMBER_ID, fixture, signed
from tests.integration.conftest import channel_app
from tests.metrics_support import total, value
from tests.recording_http import Recorded, RecordingServer, recording_server
from tests.support import FakeClock

ANA = {"name": "Ana", "phone": "600111222", "email": "ana@example.com", "language": "es"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def api(container: Container, demo: str) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def scrape(client: TestClient) -> str:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def wait(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def book(client: TestClient, **body: Any) -> Any:
    return client.post("/v1/restaurants/demo/reservations", json={**ANA, **body})


def test_requests_are_counted_by_route_template_with_their_latency(api: TestClient) -> None:
    before = scrape(api)
    for code in ("AAAA2222", "BBBB3333"):
        assert api.get(f"/v1/reservations/{code}").status_code in {401, 403, 404}
    assert api.get("/no/such/path").status_code == 404
    after = scrape(api)
    route = "/v1/reservations/{code}"
    requests = "saveit_http_requests_total"
    counted = sum(
        value(after, requests, method="GET", route=route, status=s)
        - value(before, requests, method="GET", route=route, status=s)
        for s in ("401", "403", "404")
    )
    assert counted == 2
    assert "AAAA2222" not in after  # the raw path never becomes a label
    unmatched = dict(method="GET", route="<unmatched>", status="404")
    assert value(after, requests, **unmatched) - value(before, requests, **unmatched) == 1
    duration = "saveit_http_request_duration_seconds_count"
    assert (
        value(after, duration, method="GET", route=route)
        - value(before, duration, method="GET", route=route)
        == 2
    )


def test_booking_outcomes_refusals_cache_and_transactions(
    api: TestClient, container: Container, clock: FakeClock
) -> None:
    before = scrape(api)
    params = {"date": "2026-06-03", "party_size": 2}
    assert api.get("/v1/restaurants/demo/availability", params=params).status_code == 200
    assert api.get("/v1/restaurants/demo/availability", params=params).status_code == 200
    made = book(api, date="2026-06-03", time="21:00", party_size=2)
    assert made.status_code == 201, made.text
    code, token = made.json()["reservation"]["code"], made.json()["manage_token"]
    manage = {"X-Manage-Token": token}
    moved = api.patch(
        f"/v1/reservations/{code}", json={"start": "2026-06-03T19:30:00Z"}, headers=manage
    )
    assert moved.status_code == 200, moved.text
    assert api.post(f"/v1/reservations/{code}/cancel", json={}, headers=manage).status_code == 200
    closed = book(api, date="2026-06-03", time="10:00", party_size=2)
    assert closed.json()["code"] == "OUTSIDE_OPENING_HOURS"
    no_show = book(api, date="2026-06-01", time="13:00", party_size=2)
    assert no_show.status_code == 201, no_show.text
    clock.advance(hours=5)  # 14:00 UTC: 16:00 in Madrid, long past the grace
    assert container.scheduler is not None
    container.scheduler.tick()
    after = scrape(api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("saveit_bookings_total", outcome="created") == 2
    assert delta("saveit_bookings_total", outcome="moved") == 1
    assert delta("saveit_bookings_total", outcome="cancelled") == 1
    assert delta("saveit_bookings_total", outcome="no_show") == 1
    assert delta("saveit_bookings_total", outcome="refused") == 1
    assert delta("saveit_booking_refusals_total", code="OUTSIDE_OPENING_HOURS") == 1
    assert delta("saveit_availability_cache_total", result="miss") >= 1
    assert delta("saveit_availability_cache_total", result="hit") >= 1
    assert delta("saveit_db_transaction_duration_seconds_count") >= 5
    assert delta("saveit_scheduler_runs_total", job="no_shows") == 1
    assert delta("saveit_scheduler_runs_total", job="reminders") == 1


def test_the_cache_bypass_is_counted(settings: Settings, clock: FakeClock, demo: str) -> None:
    container = build(settings.model_copy(update={"availability_cache": False}), clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            before = scrape(client)
            params = {"date": "2026-06-03", "party_size": 2}
            assert client.get("/v1/restaurants/demo/availability", params=params).status_code == 200
            after = scrape(client)
    finally:
        container.close()
    name = "saveit_availability_cache_total"
    assert value(after, name, result="bypass") - value(before, name, result="bypass") == 1


@pytest.fixture
def unthrottled(settings: Settings, clock: FakeClock, demo: str) -> Iterator[TestClient]:
    """Rate limits off: a race may take a few rounds, and the per-guest and per-IP
    create limits would otherwise answer the later rounds with 429s."""
    container = build(settings.model_copy(update={"ratelimit_enabled": False}), clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            yield client
    finally:
        container.close()


def test_a_claim_lost_to_a_racing_booking_is_counted(unthrottled: TestClient) -> None:
    """Eight guests want the two seatings for six at once; the ones whose table was
    taken between their read and their write are claim conflicts."""
    api = unthrottled
    before = scrape(api)
    for day in range(3, 20):  # a race is likely, not certain: a few more days if need be
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda when: book(api, date=when, time="21:00", party_size=6),
                    [f"2026-06-{day:02d}"] * 8,
                )
            )
        assert sorted(a.status_code for a in answers) == [201, 201] + [409] * 6
        after = scrape(api)
        if value(after, "saveit_claim_conflicts_total") > value(
            before, "saveit_claim_conflicts_total"
        ):
            return
    pytest.fail("no claim conflict in 17 races")


def test_outbox_backlog_relay_lag_and_consumer_lag_are_read_on_scrape(
    api: TestClient, container: Container
) -> None:
    container.bus.ensure_group("probe")
    assert book(api, date="2026-06-03", time="21:00", party_size=2).status_code == 201
    waiting = scrape(api)
    assert value(waiting, "saveit_outbox_backlog") >= 1
    assert value(waiting, "saveit_relay_lag_seconds") >= 0
    published = container.relay.publish_pending()
    assert published >= 1
    done = scrape(api)
    assert value(done, "saveit_outbox_backlog") == 0
    assert value(done, "saveit_relay_lag_seconds") == 0
    assert value(done, "saveit_consumer_lag", group="probe") == published


def test_dead_letters_and_open_breakers_are_counted(api: TestClient, container: Container) -> None:
    before = scrape(api)

    def fails(_: Event) -> None:
        raise RuntimeError("always")

    container.bus.ensure_group("doomed")
    assert book(api, date="2026-06-03", time="21:00", party_size=2).status_code == 201
    container.relay.publish_pending()
    consumer = Consumer(
        container.bus,
        "doomed",
        fails,
        processed=MemoryProcessedStore(),
        max_deliveries=1,
        retry_delays_s=(),
    )
    consumer.poll_once(block_ms=0)
    breaker = CircuitBreaker("metrics-test", failure_threshold=1, reset_timeout_s=60)
    breaker.record_failure()
    opened = scrape(api)
    breaker.record_success()
    closed = scrape(api)
    assert (
        value(opened, "saveit_dead_letters_total") - value(before, "saveit_dead_letters_total") >= 1
    )
    assert value(opened, "saveit_circuit_breaker_open", name="metrics-test") == 1
    assert value(closed, "saveit_circuit_breaker_open", name="metrics-test") == 0


class FlakyGraph:
    """The Graph API stand-in: 500 for the first send, 400 for the second, then 200."""

    def __init__(self) -> None:
        self.sends = 0
        self.lock = threading.Lock()

    def __call__(self, request: Recorded) -> tuple[int, Any]:
        if not request.path.endswith("/messages"):
            return 200, {"id": WA_NUMBER_ID, "display_phone_number": "+34 910 000 000"}
        with self.lock:
            self.sends += 1
            n = self.sends
        if n == 1:
            return 500, {"error": {"message": "try again", "code": 1}}
        if n == 2:
            return 400, {"error": {"message": "no", "code": 100}}
        return 200, {"messages": [{"id": f"wamid.OUT{n:031d}"}]}


@pytest.fixture
def flaky_graph() -> Iterator[RecordingServer]:
    with recording_server(FlakyGraph()) as server:
        yield server


def test_webhooks_sends_and_bot_replies_are_counted(
    settings: Settings, clock: FakeClock, flaky_graph: RecordingServer
) -> None:
    with channel_app(
        settings,
        clock,
        {"whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"}},
        meta_app_secret=SecretStr(SECRET.decode()),
        graph_api_base=flaky_graph.url,
    ) as (client, container):
        before = scrape(client)
        body = fixture("whatsapp/text_escaped.json")
        assert (
            client.post("/webhooks/whatsapp", content=body, headers=signed(body)).json()["stored"]
            == 1
        )
        assert (
            client.post("/webhooks/whatsapp", content=body, headers=signed(body)).json()[
                "duplicates"
            ]
            == 1
        )
        bad = client.post("/webhooks/whatsapp", content=body, headers=signed(body, b"x"))
        assert bad.status_code == 401
        garbage = b"{not json"
        assert (
            client.post("/webhooks/whatsapp", content=garbage, headers=signed(garbage)).status_code
            == 400
        )
        elsewhere = body.replace(WA_NUMBER_ID.encode(), b"109876543219999")
        assert (
            client.post(
                "/webhooks/whatsapp", content=elsewhere, headers=signed(elsewhere)
            ).status_code
            == 200
        )

        def sends() -> int:
            return len([r for r in flaky_graph.requests if r.path.endswith("/messages")])

        def counted(outcome: str) -> bool:
            name = "saveit_channel_sends_total"
            return total(scrape(client), name, outcome=outcome) > total(
                before, name, outcome=outcome
            )

        wait(lambda: counted("retried"))  # the bot's answer: 500, retried later
        clock.advance(minutes=5)
        container.gateway.delivery.ready.set()
        wait(lambda: sends() >= 2)  # 400: failed
        wait(lambda: counted("failed"))
        after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for outcome in ("stored", "duplicate", "bad_signature", "malformed", "unrouted"):
        assert delta("saveit_webhooks_total", channel="whatsapp", outcome=outcome) == 1, outcome
    assert delta("saveit_channel_sends_total", channel="whatsapp", outcome="retried") == 1
    assert delta("saveit_channel_sends_total", channel="whatsapp", outcome="failed") == 1
    assert delta("saveit_bot_reply_duration_seconds_count") >= 1


def test_metrics_can_be_turned_off(settings: Settings, clock: FakeClock) -> None:
    container = build(settings.model_copy(update={"metrics_enabled": False}), clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            assert client.get("/metrics").status_code == 404
            assert client.get("/healthz").headers["x-request-id"]
    finally:
        container.close()
