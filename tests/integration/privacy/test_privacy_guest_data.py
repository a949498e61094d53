"""A guest's data: everything of theirs comes out in an export (to staff, or to them
with a booking's manage token), nothing of anyone else's; and erasure leaves no
trace of them anywhere in the database while every count stays as it was.

Two guests write on WhatsApp (signed webhooks, the bot answers through the Graph
API stand-in), book through the public API with the same phone, change their
notes, are told by the notifier, and one of them asks to link an email.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import JSON, Connection, String, func, select, update
from sqlalchemy.exc import DBAPIError

from saveit.admin.setup import apply_spec, parse_document
from saveit.bootstrap import Container
from saveit.config import Settings
from saveit.store import conversations as convs
from saveit.store import restaurants as restaurant_store
from saveit.store import tokens
from saveit.store.schema import (
    channel_identities,
    channel_messages,
    guests,
    metadata,
    outbox,
    reservation_log,
    reservations,
)
from tests.conftest import ADMIN_TOKEN
from tests.integration.channels.test_webhooks_meta import (
    SECRET,
    WA_NUMBER_ID,
    graph_answer,
    signed,
    wait,
)
from tests.integration.conftest import channel_app
from tests.integration.notify.test_notify import Pump
from tests.recording_http import Recorded, RecordingServer, recording_server
from tests.support import FakeClock, demo_document

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Person:
    def __init__(self, digits: str, name: str, email: str, said: str, note: str) -> None:
        self.digits = digits  # the WhatsApp id: the phone without its plus sign
        self.name = name
        self.email = email
        self.said = said
        self.note = note
        self.code = ""
        self.token = ""
        self.guest_id = 0

    @property
    def needles(self) -> tuple[str, ...]:
        """What of theirs must never be found after erasure (the phone in any format
        contains its last nine digits)."""
        return (self.digits[-9:], self.name, self.email, self.said, self.note)


QUENTIN = Person(
    "34611222333",
    "Quentin Zabaleta",
    "quentin.zabaleta@example.org",
    "mi perro Bartolo",
    "sesamo Q7",
)
BERTA = Person(
    "34699888777",
    "Berta Ollendorf",
    "berta.ollendorf@example.net",
    "cenamos con Tobias",
    "trona B9",
)


@pytest.fixture
def graph() -> Iterator[RecordingServer]:
    """The Graph API stand-in, with a fresh message id for every send."""
    sent = itertools.count(1)

    def answer(request: Recorded) -> tuple[int, Any]:
        status, doc = graph_answer(request)
        doc["messages"] = [{"id": f"wamid.OUT{next(sent):020d}"}]
        return status, doc

    with recording_server(answer) as server:
        yield server


@pytest.fixture
def app(
    settings: Settings, clock: FakeClock, graph: RecordingServer
) -> Iterator[tuple[TestClient, Container]]:
    clock.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    with channel_app(
        settings,
        clock,
        {"whatsapp": {"phone_number_id": WA_NUMBER_ID, "access_token": "wa-token"}},
        meta_app_secret=SecretStr(SECRET.decode()),
        graph_api_base=graph.url,
        public_base_url="https://book.example.com",
    ) as running:
        yield running


def whatsapp(person: Person, text: str) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "34910000001", "phone_number_id": WA_NUMBER_ID},
        "contacts": [{"profile": {"name": person.name}, "wa_id": person.digits}],
        "messages": [
            {
                "from": person.digits,
                "id": f"wamid.{uuid.uuid4().hex}",
                "timestamp": "1780304400",
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    doc = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(doc).encode()


def writes(client: TestClient, graph: RecordingServer, person: Person, text: str) -> None:
    before = len(graph.requests)
    body = whatsapp(person, text)
    assert client.post("/webhooks/whatsapp", content=body, headers=signed(body)).status_code == 200
    wait(lambda: len(graph.requests) > before)  # the bot answered


def live_through(
    client: TestClient, container: Container, graph: RecordingServer, person: Person, day: str
) -> None:
    """Writes, books with the same phone, changes the notes, hears the confirmation."""
    writes(client, graph, person, person.said)
    writes(client, graph, person, "quiero reservar para 2 personas")
    made = client.post(
        "/v1/restaurants/demo/reservations",
        json={
            "date": day,
            "time": "21:00",
            "party_size": 2,
            "name": person.name,
            "phone": "+" + person.digits,
            "email": person.email,
            "notes": person.note,
        },
    )
    assert made.status_code == 201, made.text
    person.code = made.json()["reservation"]["code"]
    person.token = made.json()["manage_token"]
    changed = client.patch(
        f"/v1/reservations/{person.code}",
        json={"notes": f"{person.note}, {person.name}"},
        headers={"X-Manage-Token": person.token},
    )
    assert changed.status_code == 200, changed.text
    chose = client.put(
        f"/v1/reservations/{person.code}/notify-channels",
        json={"channels": ["whatsapp"]},
        headers={"X-Manage-Token": person.token},
    )
    assert chose.status_code == 200, chose.text
    sent = len(graph.requests)
    Pump(container)()  # the notifier queues the confirmation; the workers send it
    wait(lambda: len(graph.requests) > sent)
    # The send is recorded (with its event) just after the provider answered: wait for
    # that too, or a test's counts could move under it.
    wait(lambda: not unsent(container))
    with container.engine.connect() as conn:
        person.guest_id = conn.execute(
            select(reservations.c.guest_id).where(reservations.c.code == person.code)
        ).scalar_one()
        identity_ids = conn.execute(
            select(channel_identities.c.id).where(channel_identities.c.guest_id == person.guest_id)
        ).scalars()
        assert list(identity_ids), "the booking met the guest who wrote on WhatsApp"


def unsent(container: Container) -> int:
    """Outbound messages whose send is not recorded yet."""
    with container.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(channel_messages)
                .where(
                    channel_messages.c.direction == "out", channel_messages.c.processed_at.is_(None)
                )
            ).scalar_one()
        )


@pytest.fixture
def two_guests(
    app: tuple[TestClient, Container], graph: RecordingServer, clock: FakeClock
) -> tuple[TestClient, Container]:
    client, container = app
    live_through(client, container, graph, QUENTIN, "2026-06-04")
    live_through(client, container, graph, BERTA, "2026-06-05")
    with container.engine.begin() as conn:  # Quentin asked to link his email address
        identity = conn.execute(
            select(channel_identities.c.id).where(channel_identities.c.guest_id == QUENTIN.guest_id)
        ).scalar_one()
        convs.add_link_code(
            conn,
            restaurant_id=restaurant_store.id_of(conn, "demo"),
            identity_id=identity,
            guest_id=None,
            contact=QUENTIN.email,
            code_hash="0" * 64,
            expires_at=clock() + timedelta(minutes=10),
            now=clock(),
        )
    return client, container


def texts(conn: Connection) -> Iterator[tuple[str, str, str]]:
    """Every text and JSON value in every table: (table, column, value as text)."""
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | JSON)]
        if not columns:
            continue
        for row in conn.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    shown = value if isinstance(value, str) else json.dumps(value)
                    yield table.name, column.name, shown


def found(container: Container, person: Person) -> list[tuple[str, str, str]]:
    with container.engine.connect() as conn:
        return [
            (table, column, needle)
            for table, column, value in texts(conn)
            for needle in person.needles
            if needle in value
        ]


def counts(container: Container) -> dict[str, int]:
    with container.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def test_the_export_holds_everything_of_the_guest_and_nothing_of_another(
    two_guests: tuple[TestClient, Container],
) -> None:
    """Fails before the fix: there was no export (404 on the route)."""
    client, _ = two_guests
    got = client.get(f"/v1/restaurants/demo/guests/{QUENTIN.guest_id}/export", headers=ADMIN)
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "private, no-store"
    doc = got.json()
    text = got.text
    for needle in (*QUENTIN.needles, QUENTIN.code):
        assert needle in text, needle
    for needle in (*BERTA.needles, BERTA.code):
        assert needle not in text, needle
    assert doc["guest"]["id"] == QUENTIN.guest_id
    assert doc["guest"]["email"] == QUENTIN.email
    assert [i["channel"] for i in doc["identities"]] == ["whatsapp"]
    (booking,) = doc["reservations"]
    assert booking["code"] == QUENTIN.code
    assert [h["action"] for h in booking["history"]] == ["created", "modified"]
    assert [n["kind"] for n in booking["notifications"]] == ["confirmation"]
    messages = [m for c in doc["conversations"] for m in c["messages"]]
    assert {m["direction"] for m in messages} == {"in", "out"}
    assert any(m["text"] == QUENTIN.said for m in messages)
    assert all(m["raw"] for m in messages if m["direction"] == "in")  # the provider's payload
    assert [c["contact"] for c in doc["link_codes"]] == [QUENTIN.email]


def test_only_managers_export_a_guest(
    two_guests: tuple[TestClient, Container], clock: FakeClock
) -> None:
    client, container = two_guests
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        host = tokens.issue(conn, rid, role="host", name="door", now=clock())
        manager = tokens.issue(conn, rid, role="manager", name="maria", now=clock())
    path = f"/v1/restaurants/demo/guests/{QUENTIN.guest_id}/export"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {host}"}).status_code == 403
    assert client.get(path, headers={"Authorization": f"Bearer {manager}"}).status_code == 200
    erase = f"/v1/restaurants/demo/guests/{QUENTIN.guest_id}/erase"
    assert client.post(erase, headers={"Authorization": f"Bearer {host}"}).status_code == 403
    missing = client.get("/v1/restaurants/demo/guests/999999/export", headers=ADMIN)
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")


def test_a_guest_gets_their_own_data_with_a_bookings_manage_token(
    two_guests: tuple[TestClient, Container], clock: FakeClock
) -> None:
    """Fails before the fix: a guest had no way to get a copy of their data."""
    client, container = two_guests
    mine = client.get(
        f"/v1/reservations/{QUENTIN.code}/my-data", headers={"X-Manage-Token": QUENTIN.token}
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["guest"]["id"] == QUENTIN.guest_id
    assert QUENTIN.said in mine.text
    assert BERTA.name not in mine.text
    assert BERTA.said not in mine.text
    assert client.get(f"/v1/reservations/{QUENTIN.code}/my-data").status_code == 401
    theirs = client.get(
        f"/v1/reservations/{QUENTIN.code}/my-data", headers={"X-Manage-Token": BERTA.token}
    )
    assert (theirs.status_code, theirs.json()["code"]) == (403, "FORBIDDEN")
    by_query = client.get(f"/v1/reservations/{QUENTIN.code}/my-data?token={QUENTIN.token}")
    assert by_query.status_code == 401  # a token in a URL ends up in logs
    with container.engine.begin() as conn:
        rid = restaurant_store.id_of(conn, "demo")
        host = tokens.issue(conn, rid, role="host", name="door", now=clock())
    as_host = client.get(
        f"/v1/reservations/{QUENTIN.code}/my-data", headers={"Authorization": f"Bearer {host}"}
    )
    assert as_host.status_code == 403
    as_admin = client.get(f"/v1/reservations/{QUENTIN.code}/my-data", headers=ADMIN)
    assert as_admin.json()["guest"]["id"] == QUENTIN.guest_id


def test_erasure_leaves_no_trace_of_the_guest_and_every_count_as_it_was(
    two_guests: tuple[TestClient, Container],
) -> None:
    """Fails before the fix: a guest's data could not be erased (404 on the route)."""
    client, container = two_guests
    assert found(container, QUENTIN)  # the scan sees what is there
    before = counts(container)
    erased = client.post(
        f"/v1/restaurants/demo/guests/{QUENTIN.guest_id}/erase",
        headers={**ADMIN, "X-SaveIt-Channel": "phone"},  # the guest asked by phone
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["guest_id"] == QUENTIN.guest_id

    assert found(container, QUENTIN) == []
    assert {needle for _, _, needle in found(container, BERTA)} == set(BERTA.needles)
    after = counts(container)
    added = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    # Only the erasure's own audit: its row, an entry in the booking's history, an event.
    assert added == {"guest_erasures": 1, "reservation_log": 1, "outbox": 1}
    with container.engine.connect() as conn:
        booking = conn.execute(
            select(reservations).where(reservations.c.code == QUENTIN.code)
        ).one()
        assert (booking.guest_id, booking.party_size, booking.status, booking.source) == (
            QUENTIN.guest_id,
            2,
            "confirmed",
            "web",
        )
        guest = conn.execute(select(guests).where(guests.c.id == QUENTIN.guest_id)).one()
        assert guest.name == f"erased:{QUENTIN.guest_id}"
        assert (guest.phone, guest.email, guest.notes, guest.notify_channels) == (
            None,
            None,
            "",
            [],
        )
        audit = conn.execute(select(metadata.tables["guest_erasures"])).one()
        assert (audit.guest_id, audit.actor, audit.channel) == (
            QUENTIN.guest_id,
            "admin:admin",
            "phone",
        )
        log = conn.execute(
            select(reservation_log.c.action, reservation_log.c.actor)
            .where(reservation_log.c.reservation_id == booking.id)
            .order_by(reservation_log.c.id)
        ).all()
        assert log[-1] == ("erased", "admin:admin")
        event = conn.execute(select(outbox).where(outbox.c.type == "guest.erased")).one()
        assert event.payload == {
            "guest_id": QUENTIN.guest_id,
            "by": "admin:admin",
            "channel": "phone",
        }
    # The audit log is still append-only for everyone else.
    with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
        conn.execute(update(reservation_log).values(actor="someone"))
    # Staff still read every conversation; the erased one has messages without words.
    listed = client.get("/v1/restaurants/demo/conversations", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    for conversation in listed.json()["conversations"]:
        shown = client.get(
            f"/v1/restaurants/demo/conversations/{conversation['id']}", headers=ADMIN
        )
        assert shown.status_code == 200, shown.text
    # Nothing more goes out to them: a cancellation notice finds no channel.
    outbound = counts(container)["channel_messages"]
    cancelled = client.post(f"/v1/reservations/{QUENTIN.code}/cancel", json={}, headers=ADMIN)
    assert cancelled.status_code == 200, cancelled.text
    Pump(container)()
    assert counts(container)["channel_messages"] == outbound
    # What is left to export says only that the guest was erased.
    left = client.get(f"/v1/restaurants/demo/guests/{QUENTIN.guest_id}/export", headers=ADMIN)
    assert [e["actor"] for e in left.json()["erasures"]] == ["admin:admin"]
    assert not any(needle in left.text for needle in QUENTIN.needles)


def test_erasing_a_guest_of_another_restaurant_is_not_found(
    two_guests: tuple[TestClient, Container],
) -> None:
    client, container = two_guests
    apply_spec(container.engine, parse_document(demo_document(slug="otro", name="Otro")))
    before = counts(container)
    other = client.post(f"/v1/restaurants/otro/guests/{QUENTIN.guest_id}/erase", headers=ADMIN)
    assert (other.status_code, other.json()["code"]) == (404, "NOT_FOUND")
    assert counts(container) == before
    assert found(container, QUENTIN)
    elsewhere = client.get(f"/v1/restaurants/otro/guests/{QUENTIN.guest_id}/export", headers=ADMIN)
    assert elsewhere.status_code == 404
