"""The embedded default's bus lives in memory; a notice whose event was published
but not yet handled when the process stopped is still sent after the restart,
because the notifier resumes from the durable outbox."""

from __future__ import annotations

from fastapi.testclient import TestClient

from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.store.schema import outbox
from tests.integration.channels.test_channels_email_smtp import CaptureHandler
from tests.integration.channels.test_webhooks_meta import wait
from tests.integration.notify.test_notify import app, book, graph, twilio
from tests.support import FakeClock

__all__ = ["app", "graph", "twilio"]  # fixtures

PHONE, EMAIL = "+34600111222", "ana@example.com"


def test_a_notice_published_but_not_handled_before_a_restart_is_sent_after_it(
    app: tuple[TestClient, Container], relay: tuple[CaptureHandler, int], clock: FakeClock
) -> None:
    """Fails before the fix: the restarted process's bus starts empty and the relay
    finds nothing unpublished, so the confirmation is never sent."""
    client, first = app
    made = book(client, phone=PHONE, email=EMAIL, language="es")
    code = made["reservation"]["code"]
    # The first process publishes the event to its in-memory bus, then stops
    # before its notifier handled it: that bus, and the event on it, are gone.
    assert first.relay.publish_pending() >= 1
    with first.engine.connect() as conn:
        assert conn.execute(outbox.select().where(outbox.c.published_at.is_(None))).first() is None
    assert relay[0].messages == []

    # The restarted process runs the relay and the notifier itself (the embedded default).
    settings = first.settings.model_copy(update={"relay_in_process": True})
    second = build(settings, clock=clock, migrate=False)
    with TestClient(create_app(second)):
        wait(lambda: len(relay[0].messages) == 1)
        mail = relay[0].messages[0].message
        assert mail["To"] == EMAIL
        assert code in mail.get_body(("plain",)).get_content()
    assert len(relay[0].messages) == 1


def test_handled_events_are_not_replayed(
    app: tuple[TestClient, Container], relay: tuple[CaptureHandler, int], clock: FakeClock
) -> None:
    client, first = app
    book(client, phone=PHONE, email=EMAIL, language="es")
    settings = first.settings.model_copy(update={"relay_in_process": True})
    for _ in range(2):  # run, stop, run again
        again = build(settings, clock=clock, migrate=False)
        with TestClient(create_app(again)):
            wait(lambda: len(relay[0].messages) == 1)
            assert again.bus is not None
    assert len(relay[0].messages) == 1
