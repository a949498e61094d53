"""The channel workers' lease and the notifier's reclaim wait are settings."""

from __future__ import annotations

import threading
from datetime import timedelta

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import build
from saveit.config import Settings
from saveit.domain.messages import OutboundMessage
from saveit.notify import start_notifications
from saveit.store import messages as store
from saveit.store import restaurants as restaurant_store
from tests.support import FakeClock, demo_document


def test_a_message_held_by_a_dead_worker_is_taken_over_after_the_configured_lease(
    settings: Settings, clock: FakeClock
) -> None:
    container = build(settings.model_copy(update={"delivery_lease_s": 5}), clock=clock)
    try:
        apply_spec(container.engine, parse_document(demo_document()))
        assert container.gateway is not None
        delivery = container.gateway.delivery
        with container.engine.begin() as conn:
            restaurant_id = restaurant_store.id_of(conn, "demo")
            store.enqueue(
                conn,
                restaurant_id=restaurant_id,
                channel="webchat",
                address="session-1",
                identity_id=None,
                conversation_id=None,
                message=OutboundMessage(text="hola"),
                author="staff",
                now=clock(),
            )
            # A worker claims it and dies without a word.
            assert len(store.claim_outbound(conn, now=clock(), lease=delivery.lease, limit=5)) == 1
        clock.advance(seconds=4)
        assert delivery.deliver_due() == 0  # still leased
        clock.advance(seconds=2)
        assert delivery.deliver_due() == 1  # 6 s > the 5 s lease: taken over
    finally:
        container.close()


def test_the_notifier_reclaim_wait_is_a_setting(settings: Settings, clock: FakeClock) -> None:
    configured = settings.model_copy(update={"notify_reclaim_s": 7})
    container = build(configured, clock=clock)
    stop = threading.Event()
    try:
        assert container.scheduler is not None
        running = start_notifications(
            container.bus,
            container.notifier,
            container.scheduler,
            stop,
            interval_s=60,
            reclaim_s=configured.notify_reclaim_s,
        )
        assert running.consumer is not None
        assert running.consumer.min_idle_ms == 7000
        assert container.gateway is not None
        assert container.gateway.lease == timedelta(seconds=configured.delivery_lease_s)
    finally:
        stop.set()
        running.join()
        container.close()
