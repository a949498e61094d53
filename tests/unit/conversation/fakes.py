"""In-memory stand-ins for what the chat's desk uses (:mod:`saveit.conversation.ports`).

:class:`MemoryBooking` keeps reservations in a dict and answers with the domain's
own rules (:mod:`saveit.domain.availability`): the same opening hours, lead
time, horizon, party limits, free tables and nearest alternatives as the real
engine, without its claims, audit or outbox. Enough to drive the dialogue; the
engine itself is tested against SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from saveit.admin.setup import parse_document
from saveit.booking.codes import ALPHABET, LENGTH
from saveit.conversation.desk import Desk
from saveit.conversation.dialogue import Dialogue
from saveit.conversation.nlu import parse
from saveit.conversation.speaker import Outcome
from saveit.conversation.state import DialogueState
from saveit.conversation.turn import TurnIn
from saveit.domain import errors
from saveit.domain.availability import (
    Slot,
    bookable_starts,
    check_rules,
    end_of,
    free_seatings,
    nearest_alternatives,
)
from saveit.domain.commands import Actor, CreateReservation, ModifyReservation
from saveit.domain.messages import Choice, OutboundMessage
from saveit.domain.model import (
    ACTIVE_STATUSES,
    Booked,
    Restaurant,
    Status,
)
from saveit.domain.views import Created, GuestView, ReservationView
from tests.support import FakeClock, demo_document

MONDAY_11_MADRID = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # FakeClock's default


def demo_restaurant(**overrides: object) -> Restaurant:
    """The demo restaurant (lunch 13-16, dinner 20-23:30 every day, Madrid) as the
    engine reads it from the database, built from the same document."""
    return parse_document(demo_document(**overrides)).to_domain()


def _codes() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: "".join(ALPHABET[(next(numbers) * 7 + i) % len(ALPHABET)] for i in range(LENGTH))


@dataclass
class MemoryBooking:
    """The booking engine, in memory (satisfies ``BookingPort``)."""

    clock: FakeClock = field(default_factory=FakeClock)
    restaurant_: Restaurant = field(default_factory=demo_restaurant)
    reservations: dict[str, ReservationView] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    attendance: list[str] = field(default_factory=list)
    taken_behind_the_bot: bool = False  # the next create or move loses its table
    _code: Callable[[], str] = field(default_factory=_codes)

    # --- what the desk asks ------------------------------------------------------------

    def restaurant(self, slug: str) -> Restaurant:
        if slug != self.restaurant_.slug:
            raise errors.NotFound("No such restaurant", slug=slug)
        return self.restaurant_

    def availability(
        self,
        slug: str,
        day: date,
        party_size: int,
        *,
        area: str | None = None,
        exclude_code: str | None = None,
    ) -> tuple[Restaurant, list[Slot]]:
        restaurant = self.restaurant(slug)
        booked = self._booked(exclude_code)
        slots = bookable_starts(restaurant, day, party_size, self.clock(), booked, area=area)
        return restaurant, slots

    def alternatives(
        self, slug: str, start: datetime, party_size: int, *, exclude_code: str | None = None
    ) -> list[datetime]:
        booked = self._booked(exclude_code)
        return nearest_alternatives(
            self.restaurant(slug), start, party_size, self.clock(), lambda _: booked
        )

    def check_request(self, slug: str, start: datetime, party_size: int) -> None:
        check_rules(self.restaurant(slug), start, party_size, self.clock())

    def create(self, cmd: CreateReservation, actor: Actor) -> Created:
        if cmd.idempotency_key in self.by_key:
            return Created(self.reservations[self.by_key[cmd.idempotency_key]], replayed=True)
        restaurant = self.restaurant(cmd.restaurant)
        check_rules(restaurant, cmd.start, cmd.party_size, self.clock())
        tables = self._seat(restaurant, cmd.start, cmd.party_size, cmd.area, None)
        now = self.clock()
        view = ReservationView(
            id=len(self.reservations) + 1,
            code=self._code(),
            restaurant_id=restaurant.id,
            restaurant=restaurant.slug,
            guest=GuestView(cmd.guest_id or 0, cmd.guest.name, None, None, None, 0, 0),
            party_size=cmd.party_size,
            start=cmd.start,
            end=end_of(restaurant, cmd.start, cmd.party_size),
            buffer_minutes=restaurant.rules.buffer_minutes,
            tables=tables,
            status=cmd.status,
            source=cmd.source,
            notes=cmd.notes,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self.reservations[view.code] = view
        if cmd.idempotency_key:
            self.by_key[cmd.idempotency_key] = view.code
        return Created(view, replayed=False)

    def upcoming_of_guest(self, slug: str, guest_id: int) -> list[ReservationView]:
        now = self.clock()
        return sorted(
            (
                v
                for v in self.reservations.values()
                if v.restaurant == slug
                and v.guest is not None
                and v.guest.id == guest_id
                and v.status in ACTIVE_STATUSES
                and v.start > now
            ),
            key=lambda v: v.start,
        )

    def modify(self, cmd: ModifyReservation, actor: Actor) -> ReservationView:
        current = self._get(cmd.code)
        restaurant = self.restaurant(current.restaurant)
        self._check_cutoff(restaurant, current, errors.TooLateToChange)
        start = cmd.start or current.start
        party = cmd.party_size or current.party_size
        check_rules(restaurant, start, party, self.clock())
        tables = self._seat(restaurant, start, party, None, current.code)
        return self._save(
            replace(
                current,
                start=start,
                end=end_of(restaurant, start, party),
                party_size=party,
                tables=tables,
            )
        )

    def cancel(self, code: str, actor: Actor, *, reason: str = "") -> ReservationView:
        current = self._get(code)
        if current.status is Status.CANCELLED:
            return current
        self._check_cutoff(self.restaurant(current.restaurant), current, errors.TooLateToCancel)
        return self._save(replace(current, status=Status.CANCELLED))

    def confirm_attendance(self, code: str, actor: Actor) -> ReservationView:
        view = self._get(code)
        if view.status not in ACTIVE_STATUSES or view.status is Status.CHECKED_IN:
            raise errors.InvalidTransition("not confirmable", status=view.status.value)
        self.attendance.append(code)
        return view

    # --- for the tests ------------------------------------------------------------------

    def book_for(self, guest_id: int, start: datetime, party_size: int = 2) -> ReservationView:
        """A booking the guest made earlier (on the phone, say)."""
        made = self.create(
            CreateReservation(
                restaurant="demo", start=start, party_size=party_size, guest_id=guest_id
            ),
            Actor("staff", "staff:1"),
        )
        return made.reservation

    def fill(self, start: datetime, party_size: int) -> None:
        """Take every table that could seat ``party_size`` at ``start``."""
        restaurant = self.restaurant_
        while free_seatings(restaurant, start, party_size, self._booked(None)):
            self.book_for(999, start, party_size)

    # --- inside -------------------------------------------------------------------------

    def _get(self, code: str) -> ReservationView:
        if code not in self.reservations:
            raise errors.NotFound("No such reservation", code=code)
        return self.reservations[code]

    def _save(self, view: ReservationView) -> ReservationView:
        saved = replace(view, version=view.version + 1, updated_at=self.clock())
        self.reservations[view.code] = saved
        return saved

    def _booked(self, exclude_code: str | None) -> list[Booked]:
        ids = {t.code: t.id for t in self.restaurant_.tables}
        return [
            Booked(
                tuple(ids[code] for code in v.tables),
                v.start,
                v.end,
                v.buffer_minutes,
                v.party_size,
            )
            for v in self.reservations.values()
            if v.status in ACTIVE_STATUSES and v.code != exclude_code
        ]

    def _seat(
        self,
        restaurant: Restaurant,
        start: datetime,
        party: int,
        area: str | None,
        exclude_code: str | None,
    ) -> tuple[str, ...]:
        free = free_seatings(restaurant, start, party, self._booked(exclude_code), area)
        if not free or self.taken_behind_the_bot:
            self.taken_behind_the_bot = False
            alternatives = self.alternatives(
                restaurant.slug, start, party, exclude_code=exclude_code
            )
            raise errors.SlotTaken(
                "That time is no longer free", alternatives=[a.isoformat() for a in alternatives]
            )
        return free[0].codes

    def _check_cutoff(
        self, restaurant: Restaurant, view: ReservationView, error: type[errors.DomainError]
    ) -> None:
        cutoff = restaurant.rules.cancel_cutoff_minutes
        if view.start - self.clock() < timedelta(minutes=cutoff):
            raise error("Changes online close before the booking", cutoff_minutes=cutoff)


@dataclass
class MemoryGuests:
    """Who each guest is known as (satisfies ``GuestDirectory``)."""

    known: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    asked: int = 0

    def name_and_language(self, guest_id: int) -> tuple[str, str | None] | None:
        self.asked += 1
        return self.known.get(guest_id)


@dataclass
class Chat:
    """One guest's chat with the bot, turn by turn, as :class:`BotResponder` runs it
    (its state carried between turns as the conversation row would carry it)."""

    booking: MemoryBooking = field(default_factory=MemoryBooking)
    guests: MemoryGuests = field(default_factory=MemoryGuests)
    guest_id: int = 7
    channel: str = "whatsapp"
    language: str | None = None
    state: dict[str, object] = field(default_factory=dict)
    handoff: bool = False
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def says(self, text: str, choice: Choice | None = None) -> list[OutboundMessage]:
        desk = Desk(
            self.booking,
            guests=self.guests,
            slug="demo",
            guest_id=self.guest_id,
            channel=self.channel,
            language=self.language,
        )
        understood = parse(
            text,
            now=desk.now(),
            lang_hint=self.language or desk.guest_language(),
            services=desk.hours,
        )
        self.language = desk.language = understood.lang
        state = DialogueState.load(self.state)
        outcome: Outcome = Dialogue(desk, state, understood.lang, 30).respond(
            TurnIn(
                text=text,
                parse=understood,
                choice=choice,
                message_key=f"chat:{next(self._ids)}",
                restaurant_name="Casa Demo",
                channel=self.channel,
            )
        )
        self.state = state.dump()
        self.handoff = outcome.handoff
        return outcome.messages

    def taps(self, reply: OutboundMessage, index: int) -> list[OutboundMessage]:
        picked = reply.choices[index]
        return self.says(picked.title, Choice(picked.id, picked.title))


def text(replies: list[OutboundMessage]) -> str:
    return "\n".join(m.text for m in replies)
