"""Notifications across real processes: a ``saveit worker`` killed mid-send and
restarted, then every event delivered to the notifier a second time.

One ``saveit serve`` and one ``saveit worker`` on a fresh PostgreSQL database and
the shared Redis (a stream and key prefix of this test's own). The providers are
stand-ins in this process: the WhatsApp Graph API and Twilio as recording HTTP
servers (answering after a short delay, as real APIs do, so a kill lands while a
send is in flight) and a capturing SMTP relay.

Twenty guests book while no worker runs, each allowing WhatsApp, SMS and email.
The worker starts, is SIGKILLed as soon as the first provider requests arrive,
and a new one takes over: it must finish what the dead one left (events read but
not acknowledged, messages claimed but not sent, whose 60-second lease and
reclaim idle time it waits out). Then the notifier's consumer group is reset to
the start of the stream and its processed-event marks deleted, so a third worker
gets every event again: the sent-records alone must hold.

Per booking, at the end: one ``notifications`` row and one outbound message per
channel; at the providers, one WhatsApp template, one SMS and one email naming
its code — never two. The one message the dead worker had handed to a provider
without recording the outcome is not sent again: it is failed as
``DELIVERY_UNCERTAIN`` for staff to see (``saveit.messaging.delivery``); every
other message is sent.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, delete, func, select

from saveit.notify.runner import GROUP
from saveit.store.database import create_db_engine
from saveit.store.schema import channel_messages, notifications, outbox, processed_events
from saveit.store.schema import reservations as reservation_rows
from tests.e2e.chaos_support import (
    ADMIN,
    Processes,
    booking_day,
    delete_prefix,
    fresh_database,
    saveit_env,
    shared_redis,
    wait_until,
)
from tests.integration.channels.test_channels_email_smtp import CaptureHandler, free_port
from tests.recording_http import Recorded, RecordingServer, recording_server

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

GUESTS = 20
CHANNELS = ("whatsapp", "sms", "email")
SENDING_AT_ONCE = 4  # SAVEIT_DELIVERY_CONCURRENCY: guests a worker sends to at once
PROVIDER_DELAY_S = 0.1  # each Graph/Twilio answer: a kill finds a send in flight
DONE_S = 100.0  # the dead worker's lease (60 s) and idle time (60 s) lapse first
STAFF = {"Authorization": f"Bearer {ADMIN}"}
CODE = re.compile(r"\b[Cc]ode ([A-Z0-9]{8})\b")
WA_NUMBER_ID = "109876543210001"
RELAY_ADDRESS = "reservas@demo.example"


# --- the providers' stand-ins -----------------------------------------------------------


def graph_answer() -> Callable[[Recorded], tuple[int, Any]]:
    ids = itertools.count(1)

    def answer(request: Recorded) -> tuple[int, Any]:
        time.sleep(PROVIDER_DELAY_S)
        doc = request.json()
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": doc["to"], "wa_id": doc["to"]}],
            "messages": [{"id": f"wamid.E2E{next(ids):024d}"}],  # unique, as Meta's are
        }

    return answer


def twilio_answer() -> Callable[[Recorded], tuple[int, Any]]:
    ids = itertools.count(1)

    def answer(_request: Recorded) -> tuple[int, Any]:
        time.sleep(PROVIDER_DELAY_S)
        return 201, {"sid": f"SM{next(ids):032x}", "status": "queued"}

    return answer


@dataclass
class Providers:
    graph: RecordingServer
    twilio: RecordingServer
    mail: CaptureHandler
    smtp_port: int

    def received(self) -> dict[str, list[str]]:
        """The codes each channel's messages name, in arrival order (one per message)."""
        return {
            "whatsapp": [_one_code(r.body.decode()) for r in list(self.graph.requests)],
            "sms": [_one_code(r.form()["Body"]) for r in list(self.twilio.requests)],
            "email": [_one_code(_plain(m.message)) for m in list(self.mail.messages)],
        }

    def count(self) -> int:
        return len(self.graph.requests) + len(self.twilio.requests) + len(self.mail.messages)


def _plain(mail: Any) -> str:
    body = mail.get_body(("plain",))
    assert body is not None, mail
    return str(body.get_content())


def _one_code(text: str) -> str:
    found = set(CODE.findall(text))
    assert len(found) == 1, f"expected one booking code in {text!r}"
    return str(found.pop())


@pytest.fixture
def providers() -> Iterator[Providers]:
    handler = CaptureHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="relay.test"
    )
    controller.start()
    try:
        with (
            recording_server(graph_answer()) as graph,
            recording_server(twilio_answer()) as twilio,
        ):
            yield Providers(graph, twilio, handler, controller.port)
    finally:
        controller.stop()


# --- the SaveIt processes ---------------------------------------------------------------


@dataclass
class Site:
    db: str
    redis_url: str
    stream: str
    engine: Engine
    processes: Processes
    env: dict[str, str]


@pytest.fixture
def site(tmp_path: Path, providers: Providers) -> Iterator[Site]:
    redis_url = shared_redis()
    prefix = f"saveit-test:{uuid.uuid4().hex}"
    processes = Processes(tmp_path)
    with fresh_database() as db:
        engine = create_db_engine(db)
        env = saveit_env(
            SAVEIT_DATABASE_URL=db,
            SAVEIT_REDIS_URL=redis_url,
            SAVEIT_EVENTS_STREAM=f"{prefix}:events",
            SAVEIT_REDIS_PREFIX=prefix,
            SAVEIT_RATELIMIT_IP_PER_MINUTE="1000000",
            SAVEIT_RATELIMIT_CREATE_IP_PER_HOUR="1000000",
            SAVEIT_PUBLIC_BASE_URL="https://book.example.com",
            SAVEIT_META_APP_SECRET="meta-app-secret-for-tests",
            SAVEIT_GRAPH_API_BASE=providers.graph.url,
            SAVEIT_TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            SAVEIT_TWILIO_AUTH_TOKEN="twilio-token-for-tests",
            SAVEIT_TWILIO_API_BASE=providers.twilio.url,
            SAVEIT_SMTP_RELAY_HOST="127.0.0.1",
            SAVEIT_SMTP_RELAY_PORT=str(providers.smtp_port),
            SAVEIT_SMTP_RELAY_STARTTLS="false",
            SAVEIT_SCHEDULER_INTERVAL_S="0.5",
            SAVEIT_CHANNEL_WORKER_POLL_S="0.1",
            SAVEIT_CHANNEL_HTTP_TIMEOUT_S="5",
            SAVEIT_DELIVERY_CONCURRENCY=str(SENDING_AT_ONCE),
        )
        try:
            yield Site(db, redis_url, f"{prefix}:events", engine, processes, env)
        finally:
            processes.stop()
            engine.dispose()
            delete_prefix(redis_url, prefix)


def start_worker(site: Site, name: str) -> Any:
    proc = site.processes.start(name, ["worker"], site.env)
    log = site.processes.tmp / f"{name}.log"
    wait_until(lambda: "worker: relaying" in log.read_text() or proc.poll() is not None, 30, name)
    assert proc.poll() is None, site.processes.logs()
    return proc


# --- the scenario -----------------------------------------------------------------------


def test_each_allowed_channel_hears_once_across_a_killed_worker_and_a_full_redelivery(
    site: Site, providers: Providers
) -> None:
    # The API process delivers queued messages too; it polls once a minute here so
    # that the worker is the one sending when it is killed.
    api = site.processes.serve("api", {**site.env, "SAVEIT_CHANNEL_WORKER_POLL_S": "60"})
    with httpx.Client(base_url=api, timeout=10) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        configure_channels(client)
        codes = [book_allowing_every_channel(client, i) for i in range(GUESTS)]

    assert providers.count() == 0  # no worker yet: nothing went out
    first = start_worker(site, "worker-1")
    wait_until(lambda: providers.count() >= 3, 30, "the first provider requests")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = providers.received()
    unmarked = sent_but_unmarked(site.engine, at_kill)
    queued_at_kill = count_rows(site.engine, notifications)

    start_worker(site, "worker-2")
    everything = {(code, channel) for code in codes for channel in CHANNELS}
    wait_until(
        lambda: (
            all_done(site.engine, GUESTS * len(CHANNELS))
            and reached(providers.received()) | uncertain(site.engine) >= everything
        ),
        DONE_S,
        "every notice handled after the restart",
    )
    after_restart = Counter(pairs(providers.received()))

    # Every event again, to a notifier that forgot it handled any.
    stop_workers(site)
    reset_notifier_group(site)
    start_worker(site, "worker-3")
    created = event_ids(site.engine, "reservation.created")
    wait_until(lambda: handled_by_notifier(site.engine) >= created, 30, "the redelivered events")
    time.sleep(2.0)  # anything queued now would be out by then (the worker polls every 0.1 s)
    final = providers.received()
    logs = site.processes.logs()

    # Queued exactly once: one sent-record and one message per booking and channel.
    assert count_rows(site.engine, notifications) == GUESTS * len(CHANNELS)
    assert records_per_booking(site.engine) == {code: sorted(CHANNELS) for code in codes}
    assert all_done(site.engine, GUESTS * len(CHANNELS)), logs
    # Never twice at a provider, the kill and the full redelivery notwithstanding.
    assert [pair for pair, n in Counter(pairs(final)).items() if n > 1] == []
    assert Counter(pairs(final)) == after_restart
    # What the dead worker had in flight is failed visibly, not guessed at: it had
    # at most its delivery concurrency's sends open (one per guest at a time).
    cut_off = uncertain(site.engine)
    assert unmarked <= cut_off, (unmarked, cut_off)
    assert len(cut_off) <= SENDING_AT_ONCE, cut_off
    # Everything else reached its guest; WhatsApp as the approved template, since
    # none of them ever wrote to the restaurant there.
    assert reached(final) >= everything - cut_off
    assert all(json.loads(r.body)["type"] == "template" for r in providers.graph.requests)
    assert {json.loads(r.body)["template"]["name"] for r in providers.graph.requests} == {
        "aviso_reserva"
    }
    print(  # the run's story, shown with -s
        f"at the kill: {sum(len(v) for v in at_kill.values())} provider requests, "
        f"{queued_at_kill} of {GUESTS * len(CHANNELS)} notices queued; "
        f"in flight: {sorted(unmarked)}; failed as uncertain: {sorted(cut_off)}"
    )


# --- steps ------------------------------------------------------------------------------


def configure_channels(client: httpx.Client) -> None:
    for channel, body in {
        "whatsapp": {
            "phone_number_id": WA_NUMBER_ID,
            "access_token": "wa-token",
            "template_name": "aviso_reserva",
        },
        "sms": {"number": "+34910000000"},
        "email": {"address": RELAY_ADDRESS},
    }.items():
        put = client.put(f"/v1/restaurants/demo/channels/{channel}", json=body, headers=STAFF)
        assert put.status_code == 200, put.text


def book_allowing_every_channel(client: httpx.Client, i: int) -> str:
    made = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "date": booking_day(3 + i // 2).isoformat(),
            "time": ("13:00", "21:00")[i % 2],
            "party_size": 2,
            "name": f"Guest {i}",
            "phone": f"+3460011{i:04d}",
            "email": f"guest{i}-{uuid.uuid4().hex[:6]}@example.com",
            "language": "en",
        },
    )
    assert made.status_code == 201, made.text
    code = str(made.json()["reservation"]["code"])
    chosen = client.put(
        f"/v1/reservations/{code}/notify-channels",
        json={"channels": list(CHANNELS)},
        headers={"X-Manage-Token": made.json()["manage_token"]},
    )
    assert chosen.status_code == 200, chosen.text
    return code


def stop_workers(site: Site) -> None:
    """SIGTERM to every live worker (they finish their step and exit)."""
    for proc, log in site.processes.procs:
        if log.name.startswith("worker") and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def reset_notifier_group(site: Site) -> None:
    client = redis.Redis.from_url(site.redis_url, socket_timeout=5)
    try:
        client.xgroup_setid(site.stream, GROUP, "0")
    finally:
        client.close()
    with site.engine.begin() as conn:
        conn.execute(delete(processed_events).where(processed_events.c.consumer == GROUP))


# --- what the database and the providers say ---------------------------------------------


def pairs(received: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(code, channel) for channel, found in received.items() for code in found]


def reached(received: dict[str, list[str]]) -> set[tuple[str, str]]:
    return set(pairs(received))


def count_rows(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def all_done(engine: Engine, expected: int) -> bool:
    """``expected`` outbound messages exist and each is sent or failed as uncertain."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(channel_messages.c.status, channel_messages.c.error_code).where(
                channel_messages.c.direction == "out"
            )
        ).all()
    done = [r for r in rows if r.status == "sent" or r.error_code == "DELIVERY_UNCERTAIN"]
    return len(rows) == expected == len(done)


def uncertain(engine: Engine) -> set[tuple[str, str]]:
    """The (booking, channel) notices failed because a send was cut off by the kill."""
    query = (
        select(reservation_rows.c.code, notifications.c.channel)
        .join(reservation_rows, reservation_rows.c.id == notifications.c.reservation_id)
        .join(channel_messages, channel_messages.c.id == notifications.c.message_id)
        .where(channel_messages.c.error_code == "DELIVERY_UNCERTAIN")
    )
    with engine.connect() as conn:
        return {(code, channel) for code, channel in conn.execute(query)}


def records_per_booking(engine: Engine) -> dict[str, list[str]]:
    query = (
        select(reservation_rows.c.code, notifications.c.channel, notifications.c.kind)
        .join(reservation_rows, reservation_rows.c.id == notifications.c.reservation_id)
        .order_by(notifications.c.channel)
    )
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for code, channel, kind in conn.execute(query):
            assert kind == "confirmation", (code, channel, kind)
            found.setdefault(code, []).append(channel)
    return found


def sent_but_unmarked(engine: Engine, received: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Of the messages the providers got before the kill, those the dead worker
    never recorded as sent (it died between the provider's answer and its commit)."""
    query = (
        select(reservation_rows.c.code, notifications.c.channel, channel_messages.c.status)
        .join(reservation_rows, reservation_rows.c.id == notifications.c.reservation_id)
        .join(channel_messages, channel_messages.c.id == notifications.c.message_id)
    )
    with engine.connect() as conn:
        status = {(code, channel): s for code, channel, s in conn.execute(query)}
    return {pair for pair in pairs(received) if status.get(pair) != "sent"}


def event_ids(engine: Engine, type_: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(outbox.c.event_id).where(outbox.c.type == type_)).scalars())


def handled_by_notifier(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(processed_events.c.event_id).where(processed_events.c.consumer == GROUP)
            ).scalars()
        )
