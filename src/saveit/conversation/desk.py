"""The booking engine as one guest's chat sees it.

A :class:`Desk` is bound to one restaurant and one guest (the conversation's),
so the dialogue cannot reach anyone else's reservations: every lookup goes
through :meth:`Desk.upcoming`, which lists only this guest's bookings, and
only once the sender has proven it is that guest (``proven``: an email's
``From`` alone proves nothing, see :mod:`saveit.channels.email.proof`). Times
cross this boundary as restaurant-local dates and wall-clock times; the engine
keeps instants in UTC.

The desk is typed against the ports of :mod:`.ports`, not the services behind
them, so the whole dialogue runs on in-memory fakes in the unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from saveit.conversation.ports import BookingPort, GuestDirectory, QrAttacher
from saveit.domain.commands import Actor, CreateReservation, GuestDetails, ModifyReservation
from saveit.domain.messages import OutboundMessage
from saveit.domain.model import Restaurant, ServiceHours
from saveit.domain.schedule import hours_for
from saveit.domain.views import ReservationView

if TYPE_CHECKING:
    from saveit.waitlist.service import Waitlist


class Desk:
    def __init__(
        self,
        booking: BookingPort,
        *,
        guests: GuestDirectory,
        slug: str,
        guest_id: int,
        channel: str,
        language: str | None = None,
        qr: QrAttacher | None = None,
        proven: bool = True,
    ) -> None:
        self.booking = booking
        self.guests = guests
        # False: the sender may ask and book, but sees and changes none of the
        # guest's existing bookings until it proves it is that guest.
        self.proven = proven
        self.slug = slug
        self.guest_id = guest_id
        self._guest_row: tuple[str, str | None] | None = None
        self.language = language
        self.qr = qr
        self.actor = Actor("guest", f"guest:{guest_id}", channel)
        self._restaurant: Restaurant | None = None
        self.waitlist: Waitlist | None = None  # set by the bot when the waitlist is on

    @property
    def restaurant(self) -> Restaurant:
        if self._restaurant is None:
            self._restaurant = self.booking.restaurant(self.slug)
        return self._restaurant

    def guest_name(self) -> str:
        """The name the guest is known by (a WhatsApp profile name, an earlier booking)."""
        return self._guest()[0]

    def guest_language(self) -> str | None:
        """The language the guest booked in: the tie-breaker before they wrote to us."""
        return self._guest()[1]

    def _guest(self) -> tuple[str, str | None]:
        if self._guest_row is None:
            found = self.guests.name_and_language(self.guest_id)
            self._guest_row = ("", None) if found is None else found
        return self._guest_row

    def now(self) -> datetime:
        return self.booking.clock().astimezone(self.restaurant.tz)

    def hours(self, day: date) -> Sequence[ServiceHours]:
        return hours_for(self.restaurant, day)

    def instant(self, day: date, at: time) -> datetime:
        """The UTC instant of a local wall time; an hour the clocks skip moves forward."""
        local = datetime.combine(day, at).replace(tzinfo=self.restaurant.tz)
        return local.astimezone(UTC)

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.restaurant.tz)

    def free_starts(
        self, day: date, party_size: int, area: str | None = None, exclude: str | None = None
    ) -> list[datetime]:
        """Bookable starts of a local day; ``exclude`` frees that booking's own tables."""
        _, slots = self.booking.availability(
            self.slug, day, party_size, area=area, exclude_code=exclude
        )
        return [s.start for s in slots]

    def alternatives(
        self, start: datetime, party_size: int, exclude: str | None = None
    ) -> list[datetime]:
        return self.booking.alternatives(self.slug, start, party_size, exclude_code=exclude)

    def check(self, start: datetime, party_size: int) -> None:
        self.booking.check_request(self.slug, start, party_size)

    def book(
        self, start: datetime, party_size: int, name: str, area: str | None, key: str
    ) -> ReservationView:
        made = self.booking.create(
            CreateReservation(
                restaurant=self.slug,
                start=start,
                party_size=party_size,
                guest=GuestDetails(name=name, language=self.language),
                area=area,
                source=self.actor.channel,
                idempotency_key=key,
                guest_id=self.guest_id,
            ),
            self.actor,
        )
        return made.reservation

    def upcoming(self) -> list[ReservationView]:
        if not self.proven:
            return []
        return self.booking.upcoming_of_guest(self.slug, self.guest_id)

    def mine(self, code: str) -> ReservationView | None:
        return next((r for r in self.upcoming() if r.code == code), None)

    def move(self, code: str, start: datetime, party_size: int) -> ReservationView:
        if self.mine(code) is None:  # never act on a booking that is not this guest's
            raise LookupError(code)
        return self.booking.modify(
            ModifyReservation(code=code, start=start, party_size=party_size), self.actor
        )

    def cancel(self, code: str) -> ReservationView:
        if self.mine(code) is None:  # never act on a booking that is not this guest's
            raise LookupError(code)
        return self.booking.cancel(code, self.actor, reason="cancelled by the guest in chat")

    def confirm_attendance(self, code: str) -> ReservationView:
        if self.mine(code) is None:  # never act on a booking that is not this guest's
            raise LookupError(code)
        return self.booking.confirm_attendance(code, self.actor)

    def with_qr(
        self, message: OutboundMessage, view: ReservationView, caption: str
    ) -> OutboundMessage:
        """A confirmation with the booking's check-in QR, as this chat can show it."""
        if self.qr is None:
            return message
        return self.qr.attach(message, self.actor.channel, view, caption)
