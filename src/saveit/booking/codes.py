"""Public reservation codes and the manage tokens that go with them.

A code is 8 characters of an alphabet without look-alikes (40 bits): short
enough to read over the phone, unguessable enough that with the manage token
(an HMAC of the code, so nothing to store and a replay returns the same one)
nobody reaches a booking they were not given. The API stops honouring a manage
token a grace period after the booking ends (``SAVEIT_MANAGE_TOKEN_GRACE_HOURS``).

A QR link token is what goes into an image URL (SMS, WhatsApp, Instagram): an
HMAC over the code and an expiry, good only for showing that booking's QR until
then. URLs end up in provider logs and message histories; a manage token there
would let whoever reads them change or cancel the booking.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
LENGTH = 8


def new_code(draw: Callable[[str], str] = secrets.choice) -> str:
    """A new code with at least one letter: one of digits only reads as a number (a
    phone, a date) to a guest and to the bot, which does not take it for a code
    (``conversation.slots.find_code``). About one code in 50,000 is drawn again."""
    while True:
        code = "".join(draw(ALPHABET) for _ in range(LENGTH))
        if not code.isdigit():
            return code


def manage_token(secret: bytes, code: str) -> str:
    digest = hmac.new(secret, f"manage:{code}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def verify_manage_token(secret: bytes, code: str, token: str) -> bool:
    # A token is URL-safe base64; anything else (say a non-ASCII query value,
    # which compare_digest refuses to compare) is simply not it.
    return token.isascii() and hmac.compare_digest(manage_token(secret, code), token)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _qr_tag(secret: bytes, code: str, expires: str) -> str:
    digest = hmac.new(secret, f"qr-link:{code}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def qr_link_token(secret: bytes, code: str, expires: datetime) -> str:
    """``<expiry in base36 seconds>.<tag>``: shows ``code``'s QR until ``expires``."""
    stamp = _base36(int(expires.timestamp()))
    return f"{stamp}.{_qr_tag(secret, code, stamp)}"


def verify_qr_link_token(secret: bytes, code: str, token: str, now: datetime) -> bool:
    stamp, dot, tag = token.partition(".")
    if not dot or not stamp.isalnum() or len(stamp) > 8:
        return False
    if not hmac.compare_digest(_qr_tag(secret, code, stamp), tag):
        return False
    return now < datetime.fromtimestamp(int(stamp, 36), UTC)
