"""A channel worker answers several guests at once, each guest's messages in order.

A turn waits mostly on the database; with one answering thread every guest queued
behind the others' transactions (``bench/bot.py``)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from saveit.bootstrap import Container
from saveit.domain.messages import OutboundMessage, WebhookBatch
from saveit.messaging.gateway import Gateway, Reply, Turn
from saveit.messaging.workers import ChannelWorkers
from tests.integration.messaging.test_channels_gateway import (
    WA_NUMBER_ID,
    ScriptedSender,
    wa,
)
from tests.support import FakeClock, assign_account

ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


class Slow:
    """Takes a tenth of a second per message, noting how many turns ran at once,
    overall and for one guest, and the order each guest's messages were seen in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.most_at_once = 0
        self.most_for_one_guest = 0
        self.seen: dict[str, list[str]] = {}

    def respond(self, turn: Turn) -> Reply:
        guest = turn.message.address
        with self.lock:
            self.running[guest] = self.running.get(guest, 0) + 1
            self.most_at_once = max(self.most_at_once, sum(self.running.values()))
            self.most_for_one_guest = max(self.most_for_one_guest, self.running[guest])
            self.seen.setdefault(guest, []).append(turn.text)
        time.sleep(0.1)
        with self.lock:
            self.running[guest] -= 1
        return Reply([OutboundMessage(text=f"ok: {turn.text}")])


def run_until_answered(
    container: Container, clock: FakeClock, answerers: int, batch: WebhookBatch
) -> tuple[Slow, ScriptedSender]:
    slow, sender = Slow(), ScriptedSender("whatsapp")
    gateway = Gateway(container.engine, senders={"whatsapp": sender}, responder=slow, clock=clock)
    gateway.receive(batch)
    stop = threading.Event()
    loops = ChannelWorkers(gateway, poll_s=0.05, answerers=answerers)
    loops.start(stop)
    try:
        deadline = time.monotonic() + 10
        while len(sender.sent) < len(batch.messages) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        loops.join()
    return slow, sender


@ON_POSTGRES
def test_guests_are_answered_at_once_and_each_guests_messages_in_order(
    container: Container, demo: str, clock: FakeClock
) -> None:
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    lucia, john, ana = "+34600111222", "+34600333444", "+34600555666"
    batch = WebhookBatch(
        messages=[
            wa("wamid.L1", "uno", lucia),
            wa("wamid.J1", "hello", john),
            wa("wamid.L2", "dos", lucia),
            wa("wamid.A1", "hola", ana),
            wa("wamid.L3", "tres", lucia),
        ]
    )
    slow, sender = run_until_answered(container, clock, 3, batch)

    assert len(sender.sent) == 5
    assert slow.most_at_once >= 2  # one answering thread: never more than 1
    assert slow.most_for_one_guest == 1
    assert slow.seen[lucia] == ["uno", "dos", "tres"]
    assert [m.text for to, m, _ in sender.sent if to == lucia] == ["ok: uno", "ok: dos", "ok: tres"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_sqlite_one_guest_is_answered_at_a_time(
    container: Container, demo: str, clock: FakeClock
) -> None:
    """SQLite takes one writer at a time: answering at once would only queue on its lock."""
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    batch = WebhookBatch(
        messages=[wa("wamid.S1", "uno", "+34600111222"), wa("wamid.S2", "hola", "+34600333444")]
    )
    slow, sender = run_until_answered(container, clock, 4, batch)

    assert len(sender.sent) == 2
    assert slow.most_at_once == 1


@ON_POSTGRES
@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
def test_the_answerers_yield_the_cpu_as_the_loop_that_claims_for_them_does(
    container: Container, clock: FakeClock
) -> None:
    def nice_of(tid: int) -> int:
        with open(f"/proc/self/task/{tid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[16])  # field 19: nice

    before = nice_of(threading.get_native_id())
    gateway = Gateway(container.engine, senders={}, responder=Slow(), clock=clock)
    stop = threading.Event()
    loops = ChannelWorkers(gateway, poll_s=0.05, nice=7, answerers=2)
    loops.start(stop)
    try:
        time.sleep(0.3)
        answering = [t for t in threading.enumerate() if t.name.startswith("saveit-answer-")]
        assert [nice_of(t.native_id or 0) for t in answering] == [before + 7, before + 7]
    finally:
        stop.set()
        loops.join()
