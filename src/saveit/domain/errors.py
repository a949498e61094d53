"""Domain errors with stable machine codes.

The codes are part of the public API (clients switch on them); the HTTP status
for each lives in one table at the API boundary, never here::

    DomainError
     ├── ValidationFailed        VALIDATION_ERROR
     ├── NotFound                NOT_FOUND
     ├── Unauthorized            UNAUTHORIZED
     ├── Forbidden               FORBIDDEN
     ├── Conflict                CONFLICT (stale version, idempotency key reused)
     ├── InvalidTransition       INVALID_TRANSITION (e.g. check in a cancelled booking)
     ├── SlotTaken               SLOT_TAKEN (+ alternatives)
     ├── OutsideOpeningHours     OUTSIDE_OPENING_HOURS
     ├── PartyTooLarge           PARTY_TOO_LARGE (+ max_party_size)
     ├── NoSuitableTable         NO_SUITABLE_TABLE (no table or combination seats the party)
     ├── TooSoon                 TOO_SOON (+ min_lead_minutes)
     ├── TooFarAhead             TOO_FAR_AHEAD (+ max_days_ahead)
     ├── TooLateToCancel         TOO_LATE_TO_CANCEL (+ cutoff_minutes)
     ├── TooLateToChange         TOO_LATE_TO_CHANGE (+ cutoff_minutes)
     ├── InvalidSignature        INVALID_SIGNATURE (a webhook not signed by its provider)
     ├── MalformedPayload        MALFORMED_PAYLOAD (a webhook body in no known format)
     ├── CheckInRefused          (the door: a scanned QR that does not let the guest in)
     │    ├── QrInvalidSignature      QR_INVALID_SIGNATURE (malformed or tampered token)
     │    ├── QrUnknownKey            QR_UNKNOWN_KEY (signed with a key id not, or no longer, held)
     │    ├── QrWrongRestaurant       QR_WRONG_RESTAURANT (+ restaurant)
     │    ├── QrTooEarly              QR_TOO_EARLY (+ opens_at)
     │    ├── QrExpired               QR_EXPIRED (+ closed_at)
     │    ├── QrSuperseded            QR_SUPERSEDED (the booking moved; a new QR was sent)
     │    ├── ReservationCancelled    RESERVATION_CANCELLED
     │    ├── ReservationNoShow       RESERVATION_NO_SHOW (seat them as a walk-in)
     │    └── AlreadyCheckedIn        ALREADY_CHECKED_IN (a replay or the second of two scanners)
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"

    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.data = data


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Conflict(DomainError):
    code = "CONFLICT"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class SlotTaken(DomainError):
    code = "SLOT_TAKEN"


class OutsideOpeningHours(DomainError):
    code = "OUTSIDE_OPENING_HOURS"


class PartyTooLarge(DomainError):
    code = "PARTY_TOO_LARGE"


class NoSuitableTable(DomainError):
    code = "NO_SUITABLE_TABLE"


class TooSoon(DomainError):
    code = "TOO_SOON"


class TooFarAhead(DomainError):
    code = "TOO_FAR_AHEAD"


class TooLateToCancel(DomainError):
    code = "TOO_LATE_TO_CANCEL"


class TooLateToChange(DomainError):
    code = "TOO_LATE_TO_CHANGE"


class InvalidSignature(DomainError):
    code = "INVALID_SIGNATURE"


class MalformedPayload(DomainError):
    code = "MALFORMED_PAYLOAD"


class CheckInRefused(DomainError):
    """A check-in QR that does not let its holder in; nothing was changed."""

    code = "CHECK_IN_REFUSED"


class QrInvalidSignature(CheckInRefused):
    code = "QR_INVALID_SIGNATURE"


class QrUnknownKey(CheckInRefused):
    code = "QR_UNKNOWN_KEY"


class QrWrongRestaurant(CheckInRefused):
    code = "QR_WRONG_RESTAURANT"


class QrTooEarly(CheckInRefused):
    code = "QR_TOO_EARLY"


class QrExpired(CheckInRefused):
    code = "QR_EXPIRED"


class QrSuperseded(CheckInRefused):
    code = "QR_SUPERSEDED"


class ReservationCancelled(CheckInRefused):
    code = "RESERVATION_CANCELLED"


class ReservationNoShow(CheckInRefused):
    code = "RESERVATION_NO_SHOW"


class AlreadyCheckedIn(CheckInRefused):
    code = "ALREADY_CHECKED_IN"


class OfferGone(DomainError):
    """A waitlist offer that was declined, expired or already answered."""

    code = "OFFER_GONE"
