"""Proving a phone or email from a chat that has neither, to see one's bookings.

A web chat or Instagram guest is a stranger until they prove who they are. When
one writes a phone number or an email address, the bot asks
:class:`~saveit.messaging.identity.IdentityLinks` to send a six-digit code over
the channel that already reaches that contact (WhatsApp or SMS for a phone,
email for an address) and waits for the code here. The right code merges this
chat's guest into the one who owns the contact — bookings and the earlier
conversation included — and only then does the bot show anything: a claim
alone reveals nothing, and the answer to a claim is the same whether or not
anyone has that contact.

Codes are capped per contact, per client IP (the web chat's, carried with its
messages) and per restaurant and day (:mod:`saveit.ratelimit.abuse`); a capped
request gets a polite "not now" instead of another SMS or email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from saveit.domain import errors
from saveit.messaging.identity import CannotVerify, LinkCodeInvalid
from saveit.ratelimit.limiter import RateLimited

# Channels whose identity is not a phone or an address the guest could claim instead.
LINKABLE = frozenset({"webchat", "instagram", "email"})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d .()-]{6,18}\d(?!\w)")
_CODE = re.compile(r"\d{6}")


class Linker(Protocol):
    def request(
        self,
        identity_id: int,
        *,
        phone: str | None = None,
        email: str | None = None,
        client_ip: str | None = None,
    ) -> None: ...

    def confirm(self, identity_id: int, code: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Claim:
    phone: str | None = None
    email: str | None = None

    @property
    def contact(self) -> str:
        return self.phone or self.email or ""


def claim_in(text: str, channel: str) -> Claim | None:
    """A phone (nine digits or more, so no time, date or party size) or an email
    address the guest wrote, on a channel where it would be a new link."""
    if channel not in LINKABLE:
        return None
    if channel != "email" and (found := _EMAIL.search(text)):
        return Claim(email=found.group())
    for found in _PHONE.finditer(text):
        if sum(c.isdigit() for c in found.group()) >= 9:
            return Claim(phone=found.group())
    return None


def code_in(text: str) -> str | None:
    bare = text.strip().replace(" ", "")
    return bare if _CODE.fullmatch(bare) else None


def request(
    linker: Linker, identity_id: int, claim: Claim, client_ip: str | None = None
) -> tuple[str, dict[str, object]]:
    """Send the code; the reply's phrase and values."""
    try:
        linker.request(identity_id, phone=claim.phone, email=claim.email, client_ip=client_ip)
    except RateLimited:  # too many codes to this contact, from this client or today
        return "link_capped", {"contact": claim.contact}
    except CannotVerify:
        return "link_cannot", {"contact": claim.contact}
    except errors.ValidationFailed:
        return "link_bad_contact", {"contact": claim.contact}
    return "link_sent", {"contact": claim.contact}


def confirm(linker: Linker, identity_id: int, code: str) -> tuple[int | None, str, int]:
    """(the guest id now, or None; the reply's phrase; attempts left)."""
    try:
        return linker.confirm(identity_id, code), "link_done", 0
    except LinkCodeInvalid as exc:
        left = int(exc.data.get("attempts_left", 0))
        return None, ("link_wrong" if left else "link_expired"), left
    except errors.Conflict:
        return None, "link_expired", 0
