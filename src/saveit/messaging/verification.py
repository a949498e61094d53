"""Public bookings held until the guest proves the phone or email they gave.

With the restaurant's rule ``verify_public_bookings``, a booking made through
the public API (no staff token) is written as ``pending`` and holds its table
while a six-digit code goes to the guest's phone (SMS, else WhatsApp, through
the restaurant's accounts and the gateway's delivery) or email. The guest sends
it back with ``POST /v1/reservations/{code}/verify`` and the manage token; the
right code confirms the booking (or, for a guest past the no-show limit, leaves
it for staff to approve). Five wrong codes end the tries. A hold not verified
within ``SAVEIT_BOOKING_HOLD_MINUTES`` is cancelled by the scheduler, as the
``system`` actor with an audit row and a ``reservation.cancelled`` event, and
its table is free again.

Sending a code counts against the same caps as a chat's link codes
(:class:`~saveit.ratelimit.abuse.AbuseLimits`); a booking whose code a cap
refuses is cancelled at once, so it never leaves a hold nobody can verify.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from saveit.booking.service import BookingService
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.domain.messages import OutboundMessage
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from saveit.messaging.identity import CannotVerify
from saveit.ratelimit.abuse import AbuseLimits, CodesCapped
from saveit.store import guests as guest_store
from saveit.store.unit_of_work import Database, DatabaseLike, Repositories, database_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
VERIFIER = Actor("system", "verification", "system")


class VerificationCodeInvalid(errors.DomainError):
    """Wrong, expired or used-up code; ``attempts_left`` says how many tries remain."""

    code = "VERIFICATION_CODE_INVALID"


class NotHeld(errors.DomainError):
    """This booking is not waiting for a code."""

    code = "NOT_HELD"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a booking's code will go: decided (and paid for) before the booking."""

    restaurant_id: int
    channel: str
    contact: str


def _message(code: str, minutes: int) -> OutboundMessage:
    return OutboundMessage(
        text=f"Tu código para confirmar la reserva es {code}. Caduca en {minutes} minutos.\n"
        f"Your code to confirm the booking is {code}. It expires in {minutes} minutes.",
        subject="Confirma tu reserva / Confirm your booking",
    )


class BookingVerification:
    def __init__(
        self,
        engine: Database | DatabaseLike,
        booking: BookingService,
        *,
        secret: bytes,
        clock: Callable[[], datetime],
        hold_minutes: int,
        abuse: AbuseLimits | None = None,
        wake: Callable[[], None] | None = None,
        phone_region: str = "ES",
    ) -> None:
        self.phone_region = phone_region
        self.db = database_of(engine)
        self.booking = booking
        self.secret = secret
        self.clock = clock
        self.hold = timedelta(minutes=hold_minutes)
        self.abuse = abuse
        self.wake = wake

    def _hash(self, reservation_id: int, code: str) -> str:
        return hmac.new(
            self.secret, f"hold:{reservation_id}:{code}".encode(), hashlib.sha256
        ).hexdigest()

    # --- before the booking -------------------------------------------------------------

    def plan(
        self,
        restaurant_id: int,
        *,
        phone: str | None,
        email: str | None,
    ) -> Route:
        """Where the code will go (the phone first, normalised as the engine does);
        raises ``CannotVerify`` when no channel of the restaurant reaches the guest."""
        phone = guest_store.normalise_phone(phone, self.phone_region) if phone else None
        email = guest_store.normalise_email(email) if email else None
        with self.db.reading() as r:
            route = self._route(r, restaurant_id, phone, email)
        if route is None:
            raise CannotVerify(
                "This restaurant confirms online bookings with a code, and has no channel "
                "that reaches the phone or email given; please call it"
            )
        return route

    def _route(
        self, r: Repositories, restaurant_id: int, phone: str | None, email: str | None
    ) -> Route | None:
        if phone:
            for channel in ("sms", "whatsapp"):
                if r.accounts.find(restaurant_id, channel) is not None:
                    return Route(restaurant_id, channel, phone)
        if email and r.accounts.find(restaurant_id, "email") is not None:
            return Route(restaurant_id, "email", email)
        return None

    # --- after it -----------------------------------------------------------------------

    def start(self, view: ReservationView, route: Route, client_ip: str | None) -> datetime:
        """Record the hold of a booking just made and send its code; the expiry.

        The code counts against the caps only now, so a request the engine refused
        (a taken time, a closed day) costs the guest none of them; when a cap is
        reached the booking is cancelled at once (no notice goes out for it) and
        ``CodesCapped`` raised: no hold is left that nobody could verify."""
        if self.abuse is not None:
            try:
                self.abuse.check_code(
                    restaurant_id=view.restaurant_id, contact=route.contact, client_ip=client_ip
                )
            except CodesCapped:
                self.booking.cancel(
                    view.code, VERIFIER, reason="no verification code could be sent"
                )
                raise
        now = self.clock()
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires = now + self.hold
        contact = route.contact
        with self.db.unit_of_work() as uow:
            uow.holds.add(
                reservation_id=view.id,
                restaurant_id=view.restaurant_id,
                channel=route.channel,
                contact=contact,
                code_hash=self._hash(view.id, code),
                expires_at=expires,
                now=now,
            )
            uow.messages.enqueue(
                restaurant_id=view.restaurant_id,
                channel=route.channel,
                address=contact,
                identity_id=None,
                conversation_id=None,
                message=_message(code, int(self.hold.total_seconds() // 60)),
                author="system:verification",
                now=now,
            )
        if self.wake is not None:
            self.wake()
        return expires

    def verify(self, view: ReservationView, code: str, actor: Actor) -> ReservationView:
        """The guest's code: confirm the held booking, or count a wrong try."""
        now = self.clock()
        with self.db.unit_of_work() as uow:
            hold = uow.holds.of(view.id)
            if hold is None:
                raise NotHeld("This booking is not waiting for a code")
            if hold.verified_at is not None:
                return view  # verified before (a retried request)
            live = hold.expires_at > now and hold.attempts < MAX_ATTEMPTS
            right = live and hmac.compare_digest(self._hash(view.id, code.strip()), hold.code_hash)
            if not right:
                if live:
                    uow.holds.count_attempt(view.id, hold.attempts)
                left = max(MAX_ATTEMPTS - hold.attempts - 1, 0) if live else 0
                failed = VerificationCodeInvalid(
                    "That code is not right" if live else "The code expired or was used up",
                    attempts_left=left,
                )
            elif not uow.holds.mark_verified(view.id, now):
                failed = VerificationCodeInvalid("The code expired", attempts_left=0)
            else:
                failed = None
        if failed is not None:  # the try is counted (committed) before refusing
            raise failed
        if view.status is not Status.PENDING:
            return view
        limit = self.booking.restaurant(view.restaurant).rules.no_show_approval_after
        if limit is not None and view.guest is not None and view.guest.no_show_count >= limit:
            return view  # proven, but the restaurant approves this guest itself
        confirmer = Actor("system", "verification", actor.channel)
        return self.booking.confirm(view.code, confirmer, expected_version=view.version)

    # --- the sweep ----------------------------------------------------------------------

    def expire(self) -> int:
        """Cancel held bookings whose code ran out unverified; how many."""
        now = self.clock()
        with self.db.reading() as r:
            codes = r.holds.expired(now)
        cancelled = 0
        for code in codes:
            try:
                self.booking.cancel(code, VERIFIER, reason="not verified in time")
            except (errors.Conflict, errors.InvalidTransition):
                continue  # staff acted on it meanwhile
            cancelled += 1
        return cancelled
