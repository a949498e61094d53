"""Provider access tokens are sealed in the database, rotate to a new key, and a
removed key is a loud failure rather than an empty token."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.domain.messages import InboundMessage, WebhookBatch
from saveit.store import channel_accounts as accounts
from saveit.store import restaurants as restaurant_store
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.schema import channel_accounts
from saveit.store.secret_box import SecretBox, SecretsUnreadable
from tests.conftest import ADMIN_TOKEN
from tests.recording_http import recording_server
from tests.support import FakeClock, demo_document

TOKEN = "EAAG-live-access-token-9d8c7b"
OLD, NEW = SecretBox.new_key(), SecretBox.new_key()


def raw_rows(container: Container) -> str:
    with container.engine.connect() as conn:
        return repr([tuple(row) for row in conn.execute(select(channel_accounts))])


def test_the_database_holds_no_plaintext_access_token(container: Container, demo: str) -> None:
    """Fails before the fix: the token sat in channel_accounts.settings as plain JSON."""
    with TestClient(create_app(container)) as api:
        put = api.put(
            "/v1/restaurants/demo/channels/whatsapp",
            json={"phone_number_id": "104200000000001", "access_token": TOKEN},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert put.status_code == 200, put.text
    assert TOKEN not in raw_rows(container)
    assert container.box is not None
    with container.engine.connect() as conn:
        rid = restaurant_store.id_of(conn, demo)
        found = accounts.find(conn, rid, "whatsapp", container.box)
    assert found is not None
    assert found.settings["access_token"] == TOKEN  # what the sender gets


def test_tokens_stored_in_plain_text_before_are_sealed_by_the_upgrade(
    container: Container, demo: str, db_url: str
) -> None:
    """Fails before the fix: nothing sealed rows written by older versions."""
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with container.engine.begin() as conn:
        conn.execute(
            insert(channel_accounts).values(
                restaurant_id=restaurant_store.id_of(conn, demo),
                channel="instagram",
                address="17841400000000001",
                settings={"access_token": TOKEN},
                routed_address="17841400000000001",
                proven_by="migrated",
                proven_at=now,
                created_at=now,
                updated_at=now,
                proof_attempts=0,
            )
        )
    assert TOKEN in raw_rows(container)
    assert container.box is not None
    upgrade(container.engine, box=container.box)
    assert TOKEN not in raw_rows(container)
    with container.engine.connect() as conn:
        found = accounts.find(conn, restaurant_store.id_of(conn, demo), "instagram", container.box)
    assert found is not None
    assert found.settings["access_token"] == TOKEN


def _seal_under(container: Container, demo: str, box: SecretBox) -> int:
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, demo)
        accounts.put(
            conn,
            rid,
            "whatsapp",
            "104200000000001",
            {"access_token": TOKEN},
            datetime(2026, 6, 1, tzinfo=UTC),
            box=box,
            proven_by="admin",
        )
    return rid


def _token(container: Container, rid: int, box: SecretBox) -> str:
    with container.engine.connect() as conn:
        found = accounts.find(conn, rid, "whatsapp", box)
    assert found is not None
    return str(found.settings["access_token"])


def test_rotation_reseals_under_the_newest_key_and_the_old_one_can_go(
    container: Container, demo: str
) -> None:
    """Fails before the fix: there were no keys to rotate."""
    rid = _seal_under(container, demo, SecretBox.from_keys([OLD], secret_key="x"))
    with container.engine.begin() as conn:
        assert accounts.reseal_all(conn, SecretBox.from_keys([NEW, OLD], secret_key="x")) == 1
    assert _token(container, rid, SecretBox.from_keys([NEW], secret_key="x")) == TOKEN
    with pytest.raises(SecretsUnreadable):
        _token(container, rid, SecretBox.from_keys([OLD], secret_key="x"))


def test_a_removed_key_fails_loudly_and_rotation_changes_nothing(
    container: Container, demo: str
) -> None:
    """Fails before the fix: there were no keys, so nothing could fail."""
    rid = _seal_under(container, demo, SecretBox.from_keys([OLD], secret_key="x"))
    before = raw_rows(container)
    without_old = SecretBox.from_keys([NEW], secret_key="x")
    with pytest.raises(SecretsUnreadable, match="SAVEIT_ENCRYPTION_KEYS"):
        _token(container, rid, without_old)
    with pytest.raises(SecretsUnreadable), container.engine.begin() as conn:
        accounts.reseal_all(conn, without_old)
    assert raw_rows(container) == before


def test_the_embedded_default_derives_its_key_from_the_secret_key(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        sealed = SecretBox.from_keys([], secret_key="s1").seal({"access_token": TOKEN})
        assert SecretBox.from_keys(["derived"], secret_key="s1").open(sealed) == {
            "access_token": TOKEN
        }
        with pytest.raises(SecretsUnreadable):
            SecretBox.from_keys([], secret_key="s2").open(sealed)
        with engine.begin() as conn:  # the column takes what the box makes
            conn.execute(update(channel_accounts).values(secrets=sealed))
    finally:
        engine.dispose()


def test_a_send_from_an_account_whose_key_was_removed_fails_visibly(
    settings: Settings, clock: FakeClock
) -> None:
    """Fails before the fix: there were no keys, so a token could not go missing."""
    from pydantic import SecretStr

    configured = settings.model_copy(update={"encryption_keys": [SecretStr(NEW)]})
    with recording_server() as graph:
        configured = configured.model_copy(update={"graph_api_base": graph.url})
        container = build(configured, clock=clock, migrate=False)
        try:
            apply_spec(container.engine, parse_document(demo_document()))
            _seal_under(container, "demo", SecretBox.from_keys([OLD], secret_key="x"))
            assert container.gateway is not None
            container.gateway.receive(
                WebhookBatch(
                    messages=[
                        InboundMessage(
                            channel="whatsapp",
                            provider_message_id="wamid.key-gone",
                            sender="+34600111222",
                            recipient="104200000000001",
                            text="hola",
                            sent_at=clock(),
                        )
                    ]
                )
            )
            while container.gateway.answer_inbound() or container.gateway.deliver_due():
                pass
            with TestClient(create_app(container)) as api:
                admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                listed = api.get("/v1/restaurants/demo/conversations", headers=admin).json()
                shown = api.get(
                    f"/v1/restaurants/demo/conversations/{listed['conversations'][0]['id']}",
                    headers=admin,
                ).json()
        finally:
            container.close()
    out = [m for m in shown["messages"] if m["direction"] == "out"]
    assert out
    assert {m["status"] for m in out} == {"failed"}
    assert {m["error"]["code"] for m in out} == {"SECRETS_UNREADABLE"}
    assert graph.requests == []  # nothing went out with an empty token


# On SQLite only: the way back to 0004 crosses migration 0011, whose monthly
# partitions PostgreSQL cannot undo. 0006's own statements still run on PostgreSQL
# in every test database the migrations build.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_accounts_from_before_the_upgrade_keep_routing_as_migrated_with_tokens_sealed(
    db_url: str, container: Container, demo: str
) -> None:
    """Existing accounts were the only claim on their address: they keep routing,
    marked ``migrated`` for review, and the upgrade seals their plain-text token."""
    from alembic import command
    from sqlalchemy import text

    from saveit.store.migrate import alembic_config

    with container.engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, demo)
        conn.execute(
            text(
                "INSERT INTO channel_accounts (restaurant_id, channel, address, settings, "
                "created_at, updated_at) VALUES (:rid, 'whatsapp', '104200000000001', "
                ":settings, :now, :now)"
            ),
            {"rid": rid, "settings": json.dumps({"access_token": TOKEN}), "now": now},
        )
    assert container.box is not None
    upgrade(container.engine, box=container.box)
    assert TOKEN not in raw_rows(container)
    assert container.gateway is not None
    routed = container.gateway.route("whatsapp", "104200000000001")
    assert routed is not None
    assert routed.restaurant_id == rid
    with container.engine.connect() as conn:
        claim = accounts.claim_of(conn, rid, "whatsapp", container.box)
        found = accounts.find(conn, rid, "whatsapp", container.box)
    assert claim is not None
    assert claim.proven_by == "migrated"
    assert found is not None
    assert found.settings["access_token"] == TOKEN
