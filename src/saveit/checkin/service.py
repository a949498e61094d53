"""Check-in at the door: the guest shows a QR, the host scans it, the table is theirs.

A scan is checked in this order, and the first failure answers: the key id is
held (``QR_UNKNOWN_KEY``), the tag is ours (``QR_INVALID_SIGNATURE``), the token
is for this restaurant (``QR_WRONG_RESTAURANT``), the booking can still be
checked in (``RESERVATION_CANCELLED``; ``RESERVATION_NO_SHOW`` — seat them as a
walk-in; ``ALREADY_CHECKED_IN`` for checked-in or completed), the token is for
the booking's current time (``QR_SUPERSEDED``), and now is inside the token's
window (``QR_TOO_EARLY``, ``QR_EXPIRED``). A refusal changes nothing.

Moved bookings: a token names the start it was issued for, and a booking moved
to another time refuses its old QR with ``QR_SUPERSEDED``. The guest is sent a
new QR with the change notice; an old screenshot never lets someone in at a
time the restaurant did not agree to. (Changes that keep the start — party
size, notes, tables — leave the QR valid.)

Single use is the booking engine's: ``check_in`` updates the row only if its
version and status are still the ones read, so of two scanners at once exactly
one wins and the other is told ``ALREADY_CHECKED_IN``.

The door without a camera: :meth:`CheckIn.admit` also takes the booking code the
guest reads out (the host types it). A code is no secret the way a signed token
is, so it is judged by the same status and window rules (the window from the
restaurant's rules today), and a code of another restaurant's booking is
``NOT_FOUND`` here, as if it did not exist.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from saveit.booking.service import BookingService, Clock
from saveit.checkin.tokens import CheckInToken, Keyring
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.model import Restaurant, Status
from saveit.domain.schedule import local_today
from saveit.domain.views import ReservationView

_ATTEMPTS = 3  # a booking edited (not moved) between our read and our write: try again
_CODE = re.compile(r"[A-Z0-9]{4,16}")
ARRIVED = frozenset({Status.CHECKED_IN, Status.COMPLETED})


class CheckIn:
    def __init__(self, booking: BookingService, keyring: Keyring, clock: Clock) -> None:
        self.booking = booking
        self.keyring = keyring
        self.clock = clock

    def token_for(self, view: ReservationView) -> str:
        """The token for this reservation's QR, with the restaurant's window today.

        Refuses (the same codes as a scan) a booking that has no door left to
        pass: cancelled, no-show or completed."""
        if view.status is not Status.CHECKED_IN:
            _refuse_status(view)
        rules = self.booking.restaurant(view.restaurant).rules
        return self.keyring.issue(
            restaurant_id=view.restaurant_id,
            code=view.code,
            start=view.start,
            early_minutes=rules.checkin_early_minutes,
            late_minutes=rules.checkin_late_minutes,
        )

    def scan(self, slug: str, token: str, actor: Actor) -> ReservationView:
        """Check in the booking ``token`` names at restaurant ``slug``, or say why not."""
        said = self.keyring.verify(token.strip())
        restaurant = self.booking.restaurant(slug)
        if said.restaurant_id != restaurant.id:
            raise errors.QrWrongRestaurant(
                "This check-in code is for another restaurant", restaurant=slug
            )
        for _attempt in range(_ATTEMPTS):
            view = self.booking.get(said.code)
            self._admissible(said, view, self.clock())
            try:
                return self.booking.check_in(view.code, actor, expected_version=view.version)
            except errors.Conflict:
                continue  # someone else changed it first: read again, judge again
        raise errors.Conflict("The reservation keeps changing; scan again")

    def admit(self, slug: str, text: str, actor: Actor) -> ReservationView:
        """The door's one entry: a scanned token (it has dots) or a typed booking code."""
        text = text.strip()
        if "." in text:
            return self.scan(slug, text, actor)
        return self.by_code(slug, text, actor)

    def by_code(self, slug: str, code: str, actor: Actor) -> ReservationView:
        """Check in the booking the guest reads out, by the same rules as a scan."""
        restaurant = self.booking.restaurant(slug)
        for _attempt in range(_ATTEMPTS):
            view = self._here(restaurant, code)
            rules = restaurant.rules
            start = _minute(view.start)
            _refuse_status(view)
            _in_window(
                self.clock(),
                start - timedelta(minutes=rules.checkin_early_minutes),
                start + timedelta(minutes=rules.checkin_late_minutes),
            )
            try:
                return self.booking.check_in(view.code, actor, expected_version=view.version)
            except errors.Conflict:
                continue
        raise errors.Conflict("The reservation keeps changing; try again")

    def booking_named(self, slug: str, text: str) -> ReservationView | None:
        """The booking a token or code names, if it is this restaurant's: what the
        door shows next to a refusal (whose table, whose party). Never raises."""
        text = text.strip()
        try:
            restaurant = self.booking.restaurant(slug)
            if "." in text:
                said = self.keyring.verify(text)
                if said.restaurant_id != restaurant.id:
                    return None
                text = said.code
            return self._here(restaurant, text)
        except errors.DomainError:
            return None

    def arrivals(self, slug: str) -> list[ReservationView]:
        """Who came in today, last arrival first (by the check-in, not the last
        change: completing a table does not move it up): the bookings of today's
        service day that are checked in (or done), and yesterday's still seated
        after midnight."""
        restaurant = self.booking.restaurant(slug)
        now = self.clock()
        today = local_today(restaurant, now)
        seated = [
            v
            for day in (today - timedelta(days=1), today)
            for v in self.booking.list_for_day(slug, day)
            if v.status in ARRIVED and (day == today or v.end > now)
        ]
        arrived = self.booking.arrival_times(seated)
        return sorted(seated, key=lambda v: arrived.get(v.id, v.updated_at), reverse=True)

    def _here(self, restaurant: Restaurant, code: str) -> ReservationView:
        code = code.strip().upper()
        missing = errors.NotFound("No booking with this code here", code=code[:16])
        if not _CODE.fullmatch(code):
            raise missing
        try:
            view = self.booking.get(code)
        except errors.NotFound:
            raise missing from None
        if view.restaurant_id != restaurant.id:
            raise missing
        return view

    def _admissible(self, said: CheckInToken, view: ReservationView, now: datetime) -> None:
        if view.restaurant_id != said.restaurant_id:  # codes are global; never expected
            raise errors.QrWrongRestaurant("This check-in code is for another restaurant")
        _refuse_status(view)
        if _minute(view.start) != said.start:
            raise errors.QrSuperseded(
                "This booking was moved; the guest was sent a new check-in code",
                start=view.start.isoformat(),
            )
        _in_window(now, said.opens_at, said.closes_at)


def _in_window(now: datetime, opens_at: datetime, closes_at: datetime) -> None:
    if now < opens_at:
        raise errors.QrTooEarly(
            "Too early to check in with this code", opens_at=opens_at.isoformat()
        )
    if now > closes_at:
        raise errors.QrExpired("This check-in code has expired", closed_at=closes_at.isoformat())


def _refuse_status(view: ReservationView) -> None:
    match view.status:
        case Status.CANCELLED:
            raise errors.ReservationCancelled("This reservation was cancelled", code=view.code)
        case Status.NO_SHOW:
            raise errors.ReservationNoShow(
                "This reservation was marked as a no-show; seat the party as a walk-in",
                code=view.code,
            )
        case Status.CHECKED_IN | Status.COMPLETED:
            raise errors.AlreadyCheckedIn(
                f"This reservation is already {view.status.value.replace('_', ' ')}",
                code=view.code,
            )
        case _:
            return


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)
