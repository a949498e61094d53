"""Public reservation codes and the manage tokens that go with them.

A code is 8 characters of an alphabet without look-alikes (40 bits): short
enough to read over the phone, unguessable enough that with the manage token
(an HMAC of the code, so nothing to store and a replay returns the same one)
nobody reaches a booking they were not given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def manage_token(secret: bytes, code: str) -> str:
    digest = hmac.new(secret, f"manage:{code}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def verify_manage_token(secret: bytes, code: str, token: str) -> bool:
    # A token is URL-safe base64; anything else (say a non-ASCII query value,
    # which compare_digest refuses to compare) is simply not it.
    return token.isascii() and hmac.compare_digest(manage_token(secret, code), token)
