"""A reservation's life through BookingService, on both backends: guests found by
phone, every status change audited and published exactly once, the life cycle
enforced, and the audit log append-only in the database itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from saveit.bootstrap import Container
from saveit.domain import errors
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, WalkIn
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from saveit.store.schema import guests, outbox, reservation_log, reservations, table_claims
from tests.support import FakeClock

GUEST = Actor("guest", "web", "webchat")
HOST = Actor("staff", "marta", "dashboard")
DINNER = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid


def create(
    container: Container,
    *,
    phone: str = "600111222",
    start: datetime = DINNER,
    party: int = 2,
    status: Status = Status.CONFIRMED,
) -> ReservationView:
    return container.booking.create(
        CreateReservation(
            "demo", start, party, GuestDetails(name="Ana", phone=phone), status=status
        ),
        GUEST,
    ).reservation


def rows(container: Container, table: object, **where: object) -> list[object]:
    with container.engine.connect() as conn:
        query = select(table)  # type: ignore[call-overload]
        for column, value in where.items():
            query = query.where(table.c[column] == value)  # type: ignore[attr-defined]
        return list(conn.execute(query.order_by(text("1"))).all())


def total(container: Container, table: object) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "typed",
    [
        "600 11 12 22",
        "600-111-222",
        "+34 600 111 222",
        "0034600111222",
        "34600111222",
        "+34600111222",
    ],
)
def test_a_phone_in_any_format_is_stored_as_e164_and_finds_the_same_guest(
    container: Container, demo: str, typed: str
) -> None:
    first = create(container, phone="+34600111222")
    second = create(container, phone=typed, start=DINNER + timedelta(days=1))
    assert first.guest is not None
    assert second.guest is not None
    assert second.guest.id == first.guest.id
    assert second.guest.phone == "+34600111222"
    assert total(container, guests) == 1


def test_a_local_number_gets_the_default_country_code(container: Container, demo: str) -> None:
    made = create(container, phone="611 22 33 44")
    assert made.guest is not None
    assert made.guest.phone == "+34611223344"
    again = create(container, phone="+34611223344", start=DINNER + timedelta(days=1))
    assert again.guest is not None
    assert again.guest.id == made.guest.id


def test_a_bad_phone_number_is_refused_and_writes_nothing(container: Container, demo: str) -> None:
    with pytest.raises(errors.ValidationFailed):
        create(container, phone="12")
    assert [total(container, t) for t in (reservations, guests, reservation_log, outbox)] == [
        0,
        0,
        0,
        0,
    ]


Step = Callable[[Container, str], ReservationView]
STEPS: dict[str, Step] = {
    "confirmed": lambda c, code: c.booking.confirm(code, HOST),
    "checked_in": lambda c, code: c.booking.check_in(code, HOST),
    "completed": lambda c, code: c.booking.complete(code, HOST),
    "no_show": lambda c, code: c.booking.no_show(code, HOST),
    "cancelled": lambda c, code: c.booking.cancel(code, HOST, reason="plans changed"),
}


@pytest.mark.parametrize(
    "path",
    [
        ["confirmed", "checked_in", "completed"],
        ["confirmed", "no_show"],
        ["cancelled"],
        ["checked_in", "completed"],
        ["no_show"],
    ],
)
def test_every_state_change_writes_exactly_one_audit_row_and_one_event(
    container: Container, demo: str, clock: FakeClock, path: list[str]
) -> None:
    before = create(container, status=Status.PENDING)
    log = rows(container, reservation_log, reservation_id=before.id)
    assert [(r.action, r.actor, r.channel, r.before) for r in log] == [  # type: ignore[attr-defined]
        ("created", "guest:web", "webchat", None)
    ]
    assert log[0].after["status"] == "pending"  # type: ignore[attr-defined]
    clock.now = DINNER  # the party arrives (or does not)
    for action in path:
        logged, events = total(container, reservation_log), total(container, outbox)
        after = STEPS[action](container, before.code)
        assert after.status.value == action
        assert after.version == before.version + 1
        assert (total(container, reservation_log), total(container, outbox)) == (
            logged + 1,
            events + 1,
        )
        entry = rows(container, reservation_log, reservation_id=before.id)[-1]
        event = rows(container, outbox)[-1]
        assert (entry.action, entry.actor, entry.channel) == (action, "staff:marta", "dashboard")  # type: ignore[attr-defined]
        assert entry.before["status"] == before.status.value  # type: ignore[attr-defined]
        assert entry.after["status"] == action  # type: ignore[attr-defined]
        assert event.type == f"reservation.{action}"  # type: ignore[attr-defined]
        assert event.payload["reservation"] == entry.after  # type: ignore[attr-defined]
        assert event.payload["before"] == entry.before  # type: ignore[attr-defined]
        if not after.status.holds_tables:
            assert rows(container, table_claims, reservation_id=before.id) == []
        before = after


@pytest.mark.parametrize(
    ("path", "then"),
    [
        (["cancelled"], "checked_in"),
        (["cancelled"], "confirmed"),
        (["cancelled"], "no_show"),
        (["checked_in", "completed"], "cancelled"),
        (["checked_in", "completed"], "checked_in"),
        (["no_show"], "checked_in"),
        (["no_show"], "cancelled"),
        (["checked_in"], "no_show"),
        (["checked_in"], "cancelled"),
        ([], "completed"),
        ([], "confirmed"),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    container: Container, demo: str, clock: FakeClock, path: list[str], then: str
) -> None:
    code = create(container).code
    clock.now = DINNER
    for action in path:
        STEPS[action](container, code)
    state = container.booking.get(code)
    logged, events = total(container, reservation_log), total(container, outbox)
    with pytest.raises(errors.InvalidTransition):
        STEPS[then](container, code)
    assert container.booking.get(code) == state
    assert (total(container, reservation_log), total(container, outbox)) == (logged, events)


def test_cancelling_twice_is_harmless_and_logged_once(container: Container, demo: str) -> None:
    code = create(container).code
    first = container.booking.cancel(code, GUEST)
    assert container.booking.cancel(code, GUEST) == first
    actions = [r.action for r in rows(container, reservation_log)]  # type: ignore[attr-defined]
    assert actions == ["created", "cancelled"]


def test_guests_may_not_change_a_status_only_staff_do(container: Container, demo: str) -> None:
    code = create(container, status=Status.PENDING).code
    for action in ("confirmed", "checked_in", "no_show"):
        with pytest.raises(errors.Forbidden):
            getattr(
                container.booking,
                {"confirmed": "confirm", "checked_in": "check_in"}.get(action, action),
            )(code, GUEST)
    assert container.booking.get(code).status is Status.PENDING


def test_a_pending_booking_holds_its_table_and_confirming_keeps_it(
    container: Container, demo: str
) -> None:
    single = container.booking.restaurant("demo")
    held = create(container, status=Status.PENDING, party=6)  # only T7 or T4+T5 seat six
    other = create(container, phone="600333444", party=6)
    assert {held.tables, other.tables} == {("T7",), ("T4", "T5")}
    with pytest.raises(errors.SlotTaken):
        create(container, phone="600555666", party=6)
    claims = rows(container, table_claims, reservation_id=held.id)
    confirmed = container.booking.confirm(held.code, HOST)
    assert confirmed.tables == held.tables
    assert rows(container, table_claims, reservation_id=held.id) == claims
    assert single.slug == "demo"


def test_visits_and_no_shows_are_counted_on_the_guest(
    container: Container, demo: str, clock: FakeClock
) -> None:
    codes = [create(container, start=DINNER + timedelta(days=d)).code for d in range(3)]
    clock.now = DINNER
    container.booking.check_in(codes[0], HOST)
    container.booking.complete(codes[0], HOST)
    clock.now = DINNER + timedelta(days=1, minutes=20)
    container.booking.no_show(codes[1], HOST)
    clock.now = DINNER + timedelta(days=2)
    guest = container.booking.check_in(codes[2], HOST).guest
    assert guest is not None
    assert (guest.visit_count, guest.no_show_count) == (2, 1)
    # A walk-in who leaves a name only is a new, anonymous-contact guest.
    walk = container.booking.walk_in(WalkIn("demo", 2, name="Luis"), HOST)
    assert walk.guest is not None
    assert walk.guest.id != guest.id
    assert walk.guest.visit_count == 1


def test_a_walk_in_is_seated_now_audited_and_frees_the_table_when_done(
    container: Container, demo: str, clock: FakeClock
) -> None:
    clock.now = DINNER + timedelta(minutes=3)
    seated = container.booking.walk_in(WalkIn("demo", 2, notes="by the window"), HOST)
    assert (seated.status, seated.source, seated.start) == (
        Status.CHECKED_IN,
        "walk_in",
        DINNER + timedelta(minutes=3),
    )
    assert seated.guest is None  # no name, no contact
    entry = rows(container, reservation_log, reservation_id=seated.id)
    assert [(r.action, r.actor) for r in entry] == [("walk_in", "staff:marta")]  # type: ignore[attr-defined]
    # The walk-in's table is held from 21:00 (its cell) for 90 + 15 minutes.
    with pytest.raises(errors.Forbidden):
        container.booking.walk_in(WalkIn("demo", 2), GUEST)
    done = container.booking.complete(seated.code, HOST)
    assert rows(container, table_claims, reservation_id=done.id) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reservation_log SET actor = 'mallory' WHERE action = 'created'",
        "UPDATE reservation_log SET after = NULL",
        "DELETE FROM reservation_log WHERE action = 'cancelled'",
        "DELETE FROM reservation_log",
    ],
)
def test_the_database_refuses_to_rewrite_or_erase_the_reservation_log(
    container: Container, demo: str, statement: str
) -> None:
    code = create(container).code
    container.booking.cancel(code, GUEST)
    before = rows(container, reservation_log)
    with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
        conn.execute(text(statement))
    assert rows(container, reservation_log) == before
