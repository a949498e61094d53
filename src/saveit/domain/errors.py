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
     └── MalformedPayload        MALFORMED_PAYLOAD (a webhook body in no known format)
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
