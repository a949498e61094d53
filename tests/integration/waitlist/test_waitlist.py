"""The waitlist on one table: joining, holds, accept, decline, expiry, closing.

A restaurant with a single table for four and dinner 20:00-23:30 in Madrid;
the clock stands at Monday 2026-06-01 11:00 there, and the full evening is
Tuesday's 21:00. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saveit.admin.setup import apply_spec, parse_document
from saveit.api.app import create_app
from saveit.bootstrap import Container, build
from saveit.config import Settings
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, ModifyReservation
from saveit.domain.events import Event
from saveit.domain.model import Status
from saveit.store.schema import outbox, reservation_log, table_claims, waitlist_log
from saveit.waitlist.runner import WaitlistHandler
from saveit.waitlist.service import JoinRequest, Waitlist
from tests.conftest import ADMIN_TOKEN
from tests.integration.notify.test_notify import statements
from tests.integration.realtime.test_live_feed import skip_until
from tests.support import FakeClock, demo_document

TZ = ZoneInfo("Europe/Madrid")
DAY = date(2026, 6, 2)
AT_21 = datetime(2026, 6, 2, 21, 0, tzinfo=TZ)
GUEST = Actor("guest", "guest", "web")
STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def one_table() -> dict[str, object]:
    rules = dict(demo_document()["rules"], min_lead_minutes=0)
    return demo_document(
        slug="uno",
        rules=rules,
        tables=[{"code": "T1", "area": "indoor", "min_capacity": 1, "max_capacity": 4}],
        combinations=[],
    )


@pytest.fixture
def uno(container: Container, clock: FakeClock) -> Waitlist:
    clock.now = datetime(2026, 6, 1, 11, 0, tzinfo=TZ).astimezone(UTC)
    apply_spec(container.engine, parse_document(one_table()))
    assert container.waitlist is not None
    return container.waitlist


def book(container: Container, start: datetime, name: str, party: int = 2) -> str:
    made = container.booking.create(
        CreateReservation(
            "uno",
            start,
            party,
            GuestDetails(name=name, phone=f"+3460{abs(hash(name)) % 10**7:07d}"),
        ),
        GUEST,
    )
    return made.reservation.code


def join(waitlist: Waitlist, name: str, phone: str, start: datetime = AT_21) -> str:
    entry = waitlist.join(
        JoinRequest("uno", start, 2, guest=GuestDetails(name=name, phone=phone)), GUEST, "sms"
    )
    return entry.code


def restaurant_id(container: Container) -> int:
    return container.booking.restaurant("uno").id


def test_a_freed_table_is_held_for_the_first_waiting_guest_and_nobody_else_can_book_it(
    container: Container, uno: Waitlist
) -> None:
    first = book(container, AT_21, "Ana")
    with pytest.raises(errors.SlotTaken):
        book(container, AT_21, "Bea")
    bea = join(uno, "Bea", "+34600000002")
    cris = join(uno, "Cris", "+34600000003")
    assert uno.offer(restaurant_id(container), DAY) == []  # nothing free yet

    container.booking.cancel(first, GUEST)
    offered = uno.offer(restaurant_id(container), DAY)

    assert [e.code for e in offered] == [bea]  # first joined, first offered
    held = uno.get(bea)
    assert held.status == "offered"
    assert held.hold_start == AT_21.astimezone(UTC)
    assert held.hold_expires_at == container.booking.clock() + timedelta(minutes=15)
    assert uno.get(cris).status == "waiting"
    # The hold is a real claim: nobody can book the seat, nor see it as free.
    with pytest.raises(errors.SlotTaken):
        book(container, AT_21, "Dani")
    _, slots = container.booking.availability("uno", DAY, 2)
    assert AT_21.astimezone(UTC) not in [s.start for s in slots]
    # ... and it is no guest's booking: the guest's upcoming list ignores it.
    hold = container.booking.get(str(held.hold_code))
    assert hold.status is Status.HELD
    assert container.booking.upcoming_of_guest("uno", held.guest_id) == []
    # Offering again holds nothing twice.
    assert uno.offer(restaurant_id(container), DAY) == []


def test_a_seat_freed_during_a_pass_still_goes_to_the_first_guest(
    container: Container, uno: Waitlist, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass over the queue races a cancellation: it commits just after the pass
    read the day for the first guest. Fails before the fix: the pass read the day
    again for the second guest, found the freed seat and held it for her, ahead
    of the guest who joined first."""
    first = book(container, AT_21, "Ana")
    bea = join(uno, "Bea", "+34600000002")
    cris = join(uno, "Cris", "+34600000003")
    read_day = container.booking.day_occupancy
    reads: list[object] = []

    def then_ana_cancels(slug: str, day: date) -> object:
        found = read_day(slug, day)
        if not reads:
            container.booking.cancel(first, GUEST)  # commits right after this read
        reads.append(found)
        return found

    monkeypatch.setattr(container.booking, "day_occupancy", then_ana_cancels)
    assert uno.offer(restaurant_id(container), DAY) == []  # the pass saw a full day
    assert uno.get(cris).status == "waiting"

    offered = uno.offer(restaurant_id(container), DAY)  # the next pass
    assert [e.code for e in offered] == [bea]
    assert uno.get(cris).status == "waiting"


def test_accepting_turns_the_hold_into_a_confirmed_booking_with_its_events(
    container: Container, uno: Waitlist
) -> None:
    container.booking.cancel(book(container, AT_21, "Ana"), GUEST)
    bea = join(uno, "Bea", "+34600000002")
    # The cancellation came before Bea joined: the sweep finds the seat.
    assert uno.sweep()["offered"] == 1
    hold_code = uno.get(bea).hold_code

    booked = uno.accept(bea, GUEST)

    assert booked.code == hold_code
    assert booked.status is Status.CONFIRMED
    assert booked.start == AT_21.astimezone(UTC)
    assert uno.get(bea).status == "booked"
    assert uno.get(bea).reservation_code == booked.code
    assert booked.guest is not None
    upcoming = container.booking.upcoming_of_guest("uno", booked.guest.id)
    assert [v.code for v in upcoming] == [booked.code]
    assert uno.accept(bea, GUEST).code == booked.code  # a second tap changes nothing
    with container.engine.connect() as conn:
        types = conn.execute(select(outbox.c.type).order_by(outbox.c.id)).scalars().all()
        actions = conn.execute(select(waitlist_log.c.action).order_by(waitlist_log.c.id)).scalars()
        assert list(actions) == ["joined", "offered", "accepted"]
        logged = conn.execute(
            select(reservation_log.c.action).where(reservation_log.c.reservation_id == booked.id)
        ).scalars()
        assert list(logged) == ["held", "created"]
    steps = [t for t in types if t.startswith("waitlist.") or t == "reservation.held"]
    assert steps == ["waitlist.joined", "reservation.held", "waitlist.offered", "waitlist.accepted"]
    assert types[-2:] == ["reservation.created", "waitlist.accepted"]
    counted = uno.outcomes(
        "uno", datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC)
    )
    assert counted["joined"] == counted["offered"] == counted["accepted"] == 1


def test_declining_releases_the_seat_and_the_next_guest_gets_it(
    container: Container, uno: Waitlist
) -> None:
    bea = join(uno, "Bea", "+34600000002")
    cris = join(uno, "Cris", "+34600000003")
    book(container, AT_21, "Ana")  # the table is taken after they joined …
    container.booking.cancel(container.booking.list_for_day("uno", DAY)[0].code, GUEST)
    uno.offer(restaurant_id(container), DAY)
    first_hold = uno.get(bea).hold_code

    uno.decline(bea, GUEST)

    assert uno.get(bea).status == "declined"
    assert container.booking.get(str(first_hold)).status is Status.RELEASED
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_claims)).scalar() == 0
    uno.offer(restaurant_id(container), DAY)
    assert uno.get(cris).status == "offered"
    with pytest.raises(errors.OfferGone):
        uno.accept(bea, GUEST)


def test_an_offer_that_expires_is_released_and_passed_on(
    container: Container, uno: Waitlist, clock: FakeClock
) -> None:
    bea = join(uno, "Bea", "+34600000002")
    cris = join(uno, "Cris", "+34600000003")
    uno.offer(restaurant_id(container), DAY)
    assert uno.get(bea).status == "offered"

    clock.advance(minutes=14)
    assert uno.sweep()["expired"] == 0
    clock.advance(minutes=1)
    swept = uno.sweep()

    assert swept["expired"] == 1
    assert uno.get(bea).status == "expired"
    assert uno.get(cris).status == "offered"  # the same sweep offered it on
    with pytest.raises(errors.OfferGone):
        uno.accept(bea, GUEST)


def test_a_hold_near_the_start_is_short(
    container: Container, uno: Waitlist, clock: FakeClock
) -> None:
    clock.now = (AT_21 - timedelta(minutes=20)).astimezone(UTC)
    bea = join(uno, "Bea", "+34600000002")
    uno.offer(restaurant_id(container), DAY)
    held = uno.get(bea)
    assert held.hold_start == AT_21.astimezone(UTC)
    # A quarter of the 20 minutes left, not the usual 15.
    assert held.hold_expires_at == clock.now + timedelta(minutes=5)


def test_entries_close_when_the_window_passes_or_the_guest_books_that_day(
    container: Container, uno: Waitlist, clock: FakeClock
) -> None:
    book(container, AT_21, "Ana")
    bea = join(uno, "Bea", "+34600000002")
    cris = join(uno, "Cris", "+34600000003", start=AT_21 + timedelta(minutes=30))
    # Cris books that evening by other means (the event of any such booking):
    guest_of_cris = uno.get(cris).guest_id
    handler = WaitlistHandler(uno, None)
    handler.handle(
        Event(
            event_id="e1",
            type="reservation.created",
            restaurant_id=restaurant_id(container),
            payload={
                "reservation": {
                    "code": "ELSEWHER",
                    "guest_id": guest_of_cris,
                    "start": (AT_21 + timedelta(hours=2)).isoformat(),
                }
            },
            created_at=clock.now,
            outbox_id=1,
        )
    )
    assert uno.get(cris).status == "closed"
    assert uno.get(bea).status == "waiting"
    clock.now = (AT_21 + timedelta(hours=1, minutes=1)).astimezone(UTC)
    assert uno.sweep()["closed"] == 1
    assert uno.get(bea).status == "closed"


def test_a_batch_of_bookings_asks_once_who_waits_and_closes_only_their_entries(
    container: Container, uno: Waitlist, clock: FakeClock
) -> None:
    """Nearly nobody who books waits on a list: a batch of bookings costs one read
    of who does (``WaitlistHandler.prepare``), then only theirs are looked at."""
    book(container, AT_21, "Ana")
    bea = join(uno, "Bea", "+34600000002")
    rid = restaurant_id(container)

    def booked(event_id: str, guest_id: int) -> Event:
        shown = {
            "code": f"C{event_id}",
            "guest_id": guest_id,
            "start": (AT_21 + timedelta(hours=2)).isoformat(),
        }
        return Event(event_id, "reservation.created", rid, {"reservation": shown}, clock.now, 1)

    batch = [booked(f"n{i}", 900_000 + i) for i in range(20)]
    batch.insert(7, booked("bea", uno.get(bea).guest_id))
    handler = WaitlistHandler(uno, None)
    with statements(container.engine) as ran:
        handler.prepare(batch)
        for event in batch:
            handler.handle(event)
    assert uno.get(bea).status == "closed"
    reads = [s for s in ran if s.lstrip().upper().startswith("SELECT") and "waitlist_entries" in s]
    # who waits; then Bea's entries, and her closed one for its audit row
    assert len(reads) == 3, reads


def test_a_smaller_party_frees_room_through_the_event_handler(
    container: Container, uno: Waitlist
) -> None:
    """Party size reduced: a 4-top booked for 4 at 21:00 becomes 2 … on a single
    table nothing frees; a move to 22:45 does. The handler offers on the event."""
    ana = book(container, AT_21, "Ana", party=4)
    bea = join(uno, "Bea", "+34600000002")
    before = container.booking.get(ana)
    moved = container.booking.modify(
        ModifyReservation(ana, start=AT_21 + timedelta(hours=2), party_size=2),
        Actor("staff", "host", "api"),
    )
    WaitlistHandler(uno, None).handle(
        Event(
            event_id="e2",
            type="reservation.modified",
            restaurant_id=restaurant_id(container),
            payload={"reservation": moved.snapshot(), "before": before.snapshot()},
            created_at=container.booking.clock(),
            outbox_id=2,
        )
    )
    assert uno.get(bea).status == "offered"


def test_the_api_joins_changes_answers_and_lists(container: Container, uno: Waitlist) -> None:
    book(container, AT_21, "Ana")
    with TestClient(create_app(container)) as client:
        made = client.post(
            "/v1/restaurants/uno/waitlist",
            json={
                "date": "2026-06-02",
                "time": "21:00",
                "party_size": 2,
                "name": "Bea",
                "email": "bea@example.com",
            },
        )
        assert made.status_code == 201, made.text
        code, token = made.json()["entry"]["code"], made.json()["manage_token"]
        closed = client.post(
            "/v1/restaurants/uno/waitlist",
            json={
                "date": "2026-06-02",
                "time": "17:00",
                "party_size": 2,
                "name": "Bea",
                "email": "bea@example.com",
            },
        )
        assert closed.status_code == 422
        assert closed.json()["code"] == "OUTSIDE_OPENING_HOURS"
        nobody = client.post(
            "/v1/restaurants/uno/waitlist",
            json={"date": "2026-06-02", "time": "21:00", "party_size": 2, "name": "Bea"},
        )
        assert nobody.status_code == 422
        assert made.json()["entry"]["earliest"] == "2026-06-02T20:00:00+02:00"
        mine = {"X-Manage-Token": token}
        assert client.get(f"/v1/waitlist/{code}").status_code == 401
        assert (
            client.get(f"/v1/waitlist/{code}", headers={"X-Manage-Token": "x"}).status_code == 403
        )
        changed = client.patch(
            f"/v1/waitlist/{code}", headers=mine, json={"latest": "2026-06-02T23:00:00+02:00"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["latest"] == "2026-06-02T23:00:00+02:00"
        assert client.post(f"/v1/waitlist/{code}/accept", headers=mine).json()["code"] == (
            "OFFER_GONE"
        )
        staff_join = client.post(
            "/v1/restaurants/uno/waitlist",
            headers=STAFF,
            json={
                "start": "2026-06-02T21:00:00+02:00",
                "party_size": 2,
                "name": "Caller",
                "phone": "600 000 009",
            },
        )
        assert staff_join.json()["entry"]["channel"] == "phone"
        container.booking.cancel(container.booking.list_for_day("uno", DAY)[0].code, GUEST)
        uno.offer(restaurant_id(container), DAY)
        listed = client.get("/v1/restaurants/uno/waitlist?date=2026-06-02", headers=STAFF).json()
        assert [e["status"] for e in listed["entries"]] == ["offered", "waiting"]
        # The widened window (20:00-23:00) is offered its middle.
        assert listed["entries"][0]["offer"]["start"] == "2026-06-02T21:30:00+02:00"
        accepted = client.post(f"/v1/waitlist/{code}/accept", headers=mine)
        assert accepted.status_code == 200, accepted.text
        booking = accepted.json()
        assert booking["reservation"]["status"] == "confirmed"
        assert (
            client.get(
                f"/v1/reservations/{booking['reservation']['code']}",
                headers={"X-Manage-Token": booking["manage_token"]},
            ).status_code
            == 200
        )
        left = client.delete(f"/v1/waitlist/{staff_join.json()['entry']['code']}", headers=STAFF)
        assert left.json()["status"] == "left"
        counted = client.get(
            "/v1/restaurants/uno/waitlist/outcomes?from=2026-06-01&to=2026-06-01", headers=STAFF
        ).json()["outcomes"]
        assert (counted["joined"], counted["accepted"], counted["left"]) == (2, 1, 1)


def test_a_guest_past_the_no_show_limit_accepts_into_a_pending_booking(
    container: Container, uno: Waitlist
) -> None:
    from sqlalchemy import update

    from saveit.store.schema import guests

    rules = dict(one_table()["rules"], no_show_approval_after=1)  # type: ignore[call-overload]
    apply_spec(container.engine, parse_document(dict(one_table(), slug="dos", rules=rules)))
    bea = uno.join(
        JoinRequest("dos", AT_21, 2, guest=GuestDetails(name="Bea", phone="+34600000002")),
        GUEST,
        "sms",
    )
    with container.engine.begin() as conn:
        conn.execute(update(guests).where(guests.c.id == bea.guest_id).values(no_show_count=1))
    uno.offer(container.booking.restaurant("dos").id, DAY)

    booked = uno.accept(bea.code, GUEST)

    assert booked.status is Status.PENDING  # staff confirm, as for any booking of hers
    assert uno.get(bea.code).status == "booked"


def test_each_step_appears_in_the_live_feed(settings: Settings, clock: FakeClock) -> None:
    """The embedded default (relay, waitlist consumer and sweep in the app): staff
    watching the evening see the guest join, the seat held and offered."""
    embedded = settings.model_copy(
        update={"relay_in_process": None, "redis_url": None, "waitlist_sweep_s": 0.05}
    )
    container = build(embedded, clock=clock, migrate=False)
    clock.now = datetime(2026, 6, 1, 11, 0, tzinfo=TZ).astimezone(UTC)
    apply_spec(container.engine, parse_document(one_table()))
    ana = book(container, AT_21, "Ana")
    with (
        TestClient(create_app(container)) as client,
        client.websocket_connect("/v1/restaurants/uno/live?date=2026-06-02") as ws,
    ):
        ws.send_json({"type": "auth", "token": ADMIN_TOKEN})  # never in the URL
        assert ws.receive_json()["type"] == "snapshot"
        joined = client.post(
            "/v1/restaurants/uno/waitlist",
            json={
                "start": "2026-06-02T21:00:00+02:00",
                "party_size": 2,
                "name": "Bea",
                "phone": "600000002",
            },
        )
        code = joined.json()["entry"]["code"]
        assert skip_until(ws, "waitlist.joined")["entry"]["code"] == code
        container.booking.cancel(ana, GUEST)
        held = skip_until(ws, "reservation.held")
        offered = skip_until(ws, "waitlist.offered")
    assert held["waitlist_entry"] == code
    assert held["reservation"]["status"] == "held"
    assert offered["entry"]["code"] == code
    assert offered["entry"]["hold"] == held["reservation"]["code"]
