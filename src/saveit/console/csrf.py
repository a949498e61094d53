"""CSRF protection: a synchronizer token bound to the session.

The token is an HMAC, under ``SAVEIT_SECRET_KEY``, of the session's stored
digest, so it needs no storage of its own, differs per session, and dies with
the session. Before sign-in, the sign-in form is bound the same way to a random
pre-session cookie (login CSRF). Every state-changing request must carry the
token, in the form field ``csrf`` or the ``X-CSRF-Token`` header (which
``console.js`` adds to htmx requests from the page's ``<meta name="csrf-token">``).
"""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf"
HEADER = "x-csrf-token"


def token_for(secret: bytes, purpose: str, binding: str) -> str:
    return hmac.new(
        secret, f"console-csrf:{purpose}:{binding}".encode(), hashlib.sha256
    ).hexdigest()


def valid(secret: bytes, purpose: str, binding: str, presented: str | None) -> bool:
    if not presented or not binding:
        return False
    return hmac.compare_digest(token_for(secret, purpose, binding), presented)
