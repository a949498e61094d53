"""Retention: what guests wrote, and what providers sent us, goes after
``SAVEIT_MESSAGE_RETENTION_DAYS``; the message rows stay for the statistics, and
the scheduler does it without anyone asking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from saveit.bootstrap import Container
from saveit.domain.messages import InboundMessage, WebhookBatch
from saveit.messaging.gateway import Gateway
from saveit.store import conversations as convs
from saveit.store import restaurants as restaurant_store
from saveit.store import staff_accounts, staff_sessions
from saveit.store.schema import channel_identities, channel_messages, link_codes
from saveit.store.schema import staff_sessions as sessions_table
from tests.integration.messaging.test_channels_identity import Quiet, Recorder
from tests.support import FakeClock, assign_account

WA_NUMBER_ID = "104200000000001"


@pytest.fixture
def gateway(container: Container, demo: str, clock: FakeClock) -> Gateway:
    assign_account(container, demo, "whatsapp", WA_NUMBER_ID, {"access_token": "t"}, clock())
    senders = {"whatsapp": Recorder("whatsapp")}
    return Gateway(container.engine, senders=senders, responder=Quiet(), clock=clock)  # type: ignore[arg-type]


def write(gateway: Gateway, clock: FakeClock, text: str, *, answer: bool = True) -> None:
    message = InboundMessage(
        channel="whatsapp",
        provider_message_id=f"wamid.{text}",
        sender="+34600111222",
        recipient=WA_NUMBER_ID,
        text=text,
        sent_at=clock(),
        raw=f'{{"text": {{"body": "{text}"}}}}',
    )
    gateway.receive(WebhookBatch(messages=[message]))
    while answer and gateway.answer_inbound():
        pass


def held(container: Container) -> dict[str, tuple[str, str, bool]]:
    """Each message's provider id -> (text, raw, redacted)."""
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(
                channel_messages.c.provider_message_id,
                channel_messages.c.text,
                channel_messages.c.raw,
                channel_messages.c.redacted_at,
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3] is not None) for r in rows}


def test_messages_past_the_retention_period_lose_their_words_and_keep_their_row(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    """Fails before the fix: message texts and raw payloads were kept forever."""
    assert container.settings.message_retention_days == 180
    assert container.privacy is not None
    write(gateway, clock, "old words")
    clock.advance(days=100)
    write(gateway, clock, "recent words")
    clock.advance(days=81)  # the first is 181 days old, the last 81

    assert container.privacy.purge().messages == 1
    messages = held(container)
    assert messages["wamid.old words"] == ("", "", True)
    assert messages["wamid.recent words"][:2] == (
        "recent words",
        '{"text": {"body": "recent words"}}',
    )
    assert len(messages) == 2
    with container.engine.connect() as conn:
        body = conn.execute(
            select(channel_messages.c.body).where(
                channel_messages.c.provider_message_id == "wamid.old words"
            )
        ).scalar_one()
    assert body == {"text": ""}
    assert container.privacy.purge().messages == 0  # nothing left to do: a cheap no-op


def test_a_message_not_yet_answered_is_left_alone(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    assert container.privacy is not None
    write(gateway, clock, "still waiting", answer=False)
    clock.advance(days=181)
    assert container.privacy.purge().messages == 0
    assert held(container)["wamid.still waiting"][0] == "still waiting"


def test_the_scheduler_purges_at_most_hourly(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    assert container.scheduler is not None
    write(gateway, clock, "first")
    clock.advance(days=181)
    assert container.scheduler.tick().purged == 1
    write(gateway, clock, "second")
    clock.advance(days=181)
    assert container.scheduler.tick().purged == 1
    write(gateway, clock, "third")  # created now: kept however often the scheduler runs
    clock.advance(minutes=30)
    assert container.scheduler.tick().purged == 0
    with container.engine.connect() as conn:
        redacted = conn.execute(
            select(func.count()).where(channel_messages.c.redacted_at.is_not(None))
        ).scalar_one()
    assert redacted == 2


def test_the_retention_period_is_configurable(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    write(gateway, clock, "a week old")
    clock.advance(days=8)
    short = container.privacy
    assert short is not None
    short.retention = timedelta(days=7)
    assert short.purge().messages == 1


def test_link_codes_past_the_retention_period_are_deleted(
    container: Container, gateway: Gateway, clock: FakeClock
) -> None:
    """Fails before the fix: the phone or email someone claimed stayed in link_codes forever."""
    assert container.privacy is not None
    write(gateway, clock, "hola")
    with container.engine.begin() as conn:
        identity = conn.execute(select(channel_identities.c.id)).scalar_one()
        for days, contact in ((0, "old@example.org"), (100, "new@example.org")):
            clock.advance(days=days)
            convs.add_link_code(
                conn,
                restaurant_id=restaurant_store.id_of(conn, "demo"),
                identity_id=identity,
                guest_id=None,
                contact=contact,
                code_hash="0" * 64,
                expires_at=clock() + timedelta(minutes=10),
                now=clock(),
            )
    clock.advance(days=81)  # the first expired 181 days ago, the second 81
    assert container.privacy.purge().link_codes == 1
    with container.engine.connect() as conn:
        left = conn.execute(select(link_codes.c.contact)).scalars().all()
    assert left == ["new@example.org"]


def test_staff_sessions_long_over_are_deleted_and_live_ones_kept(
    container: Container, clock: FakeClock
) -> None:
    """Fails before the purge covered them: every session ever opened stayed."""

    with container.engine.begin() as conn:
        account = staff_accounts.add_account(
            conn,
            email="host@example.com",
            name="Hana",
            password_hash="x",
            must_change_password=False,
            now=clock(),
        )
        staff_sessions.open_session(conn, account, now=clock(), ttl=timedelta(hours=12))
        revoked = staff_sessions.open_session(conn, account, now=clock(), ttl=timedelta(hours=12))
        staff_sessions.revoke(conn, revoked, clock())
    clock.advance(days=31)
    with container.engine.begin() as conn:
        live = staff_sessions.open_session(conn, account, now=clock(), ttl=timedelta(hours=12))

    purged = container.privacy.purge()

    assert purged.staff_sessions == 2
    with container.engine.connect() as conn:
        left = conn.execute(select(sessions_table.c.token_hash)).scalars().all()
    assert left == [staff_sessions.digest(live)]
