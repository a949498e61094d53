"""What the chat needs from the parts around it, as protocols.

The dialogue is typed against these rather than against the classes that
implement them, for two reasons:

* it runs without a database: ``tests/unit/conversation`` drives whole
  conversations against in-memory fakes of :class:`BookingPort` and
  :class:`GuestDirectory`, in milliseconds, while the integration tests keep
  running the real engine on SQLite and PostgreSQL;
* it keeps the layers looking down. The check-in QR is made by ``notify``
  (:class:`saveit.notify.qr.QrCodes`), and ``notify`` renders its reminders
  with this package's phrases (:mod:`.replies`): so ``notify`` sits above
  ``conversation``, which names only the shape of what attaches a QR
  (:class:`QrAttacher`); the composition root hands it notify's ``QrCodes``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

from saveit.domain.availability import Slot
from saveit.domain.commands import Actor, CreateReservation, ModifyReservation
from saveit.domain.messages import OutboundMessage
from saveit.domain.model import Restaurant
from saveit.domain.views import Created, ReservationView


class BookingPort(Protocol):
    """The booking engine as a guest's chat uses it (``BookingService``)."""

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def restaurant(self, slug: str) -> Restaurant: ...

    def availability(
        self,
        slug: str,
        day: date,
        party_size: int,
        *,
        area: str | None = None,
        exclude_code: str | None = None,
    ) -> tuple[Restaurant, list[Slot]]: ...

    def alternatives(
        self, slug: str, start: datetime, party_size: int, *, exclude_code: str | None = None
    ) -> list[datetime]: ...

    def check_request(self, slug: str, start: datetime, party_size: int) -> None: ...

    def create(self, cmd: CreateReservation, actor: Actor) -> Created: ...

    def upcoming_of_guest(self, slug: str, guest_id: int) -> list[ReservationView]: ...

    def modify(self, cmd: ModifyReservation, actor: Actor) -> ReservationView: ...

    def cancel(self, code: str, actor: Actor, *, reason: str = "") -> ReservationView: ...

    def confirm_attendance(self, code: str, actor: Actor) -> ReservationView: ...


class GuestDirectory(Protocol):
    """Who the chat's guest is known as, outside any booking."""

    def name_and_language(self, guest_id: int) -> tuple[str, str | None] | None:
        """The name the guest is known by and the language they booked in;
        ``None`` when there is no such guest."""
        ...


class QrAttacher(Protocol):
    """Adds a booking's check-in QR to a message, the way a channel can show one."""

    def attach(
        self, message: OutboundMessage, channel: str, view: ReservationView, caption: str
    ) -> OutboundMessage: ...
