"""Proof that an email's sender controls the address in its ``From:`` header.

Anyone can put any address in ``From:``; SMTP itself checks nothing. So an
email identity may see or change that address's bookings only once the sender
has shown they read that mailbox, in one of three ways:

- **reply address**: each mail we send carries ``Reply-To:
  <local>+r-<token>@<domain>`` where the token is an HMAC, under the secret key,
  of the restaurant and the guest's address (together they name the guest's
  email identity). A message addressed to that token address (envelope or
  ``To``/``Cc``) *from that same address* proves its sender received our mail,
  as help desks do. Nothing is stored: the token is recomputed to check it.
- **DKIM**: a signature that verifies over the bytes as received and whose
  ``d=`` domain is the ``From`` domain or a parent of it (relaxed alignment,
  as DMARC has it). The big providers sign every message.
- **code**: the six-digit code of :mod:`saveit.messaging.identity`, sent to the
  address and typed back (for mailboxes that neither reply nor sign).

A proof is recorded on the identity (``verified_at``, ``verified_by``) and lasts
:data:`DEFAULT_PROOF_TTL`; every proven message renews it. Until then the
sender is a new guest who can ask and book, but not list, move or cancel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

import dkim

log = logging.getLogger(__name__)

REPLY = "reply"
DKIM = "dkim"
CODE = "code"

# One day: long enough to finish a conversation that began with a code, short
# enough that a forged message cannot ride on a proof from weeks ago. Replies to
# our mail and DKIM-signed mail prove themselves on every message anyway.
DEFAULT_PROOF_TTL = timedelta(hours=24)

TOKEN_PREFIX = "r-"  # noqa: S105 - a subaddress tag, no secret
_TOKEN_LENGTH = 16  # base32 characters: 80 bits of the HMAC
_TOKEN = re.compile(rf"[a-z2-7]{{{_TOKEN_LENGTH}}}")

DnsFunc = Callable[..., bytes | None]


def is_proven(verified_at: datetime | None, now: datetime, ttl: timedelta) -> bool:
    return verified_at is not None and now - verified_at <= ttl


class ReplyAddresses:
    """The per-guest reply address, and the check of a token that came back."""

    def __init__(self, secret: bytes) -> None:
        # A key of its own, so a token never equals any other HMAC we make.
        self._key = hmac.new(secret, b"saveit:email-reply-address", hashlib.sha256).digest()

    def token(self, restaurant_id: int, guest_address: str) -> str:
        message = f"{restaurant_id}:{guest_address.strip().lower()}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii").lower()[:_TOKEN_LENGTH]

    def address(self, account_address: str, restaurant_id: int, guest_address: str) -> str:
        """``reservas+r-<token>@domain`` for the restaurant's ``reservas@domain``."""
        local, _, domain = account_address.strip().rpartition("@")
        token = self.token(restaurant_id, guest_address)
        return f"{local}+{TOKEN_PREFIX}{token}@{domain}"

    def proves(self, restaurant_id: int, sender: str, tokens: Iterable[str]) -> bool:
        expected = self.token(restaurant_id, sender)
        return any(hmac.compare_digest(expected, t) for t in tokens)


def split_subaddress(address: str) -> tuple[str, str | None]:
    """``local+r-<token>@domain`` -> (``local@domain``, token); other addresses as they are."""
    address = address.strip().strip("<>").strip().lower()
    local, at, domain = address.rpartition("@")
    base, plus, tag = local.rpartition("+")
    if at and plus and base and tag.startswith(TOKEN_PREFIX):
        token = tag[len(TOKEN_PREFIX) :]
        if _TOKEN.fullmatch(token):
            return f"{base}@{domain}", token
    return address, None


def _addressed(raw: bytes, base: str) -> list[str | None]:
    """For each ``To``/``Cc`` address that is ``base`` or a subaddress of it, its
    token (None for ``base`` itself)."""
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        values = [str(v) for name in ("To", "Cc") for v in msg.get_all(name, [])]
        found: list[str | None] = []
        for _, address in getaddresses(values):
            plain, token = split_subaddress(address)
            if plain == base:
                found.append(token)
        return found
    except Exception:  # a header we cannot read names nobody
        return []


def header_tokens(raw: bytes, base: str) -> list[str]:
    """Tokens of ``base``'s reply address named in the ``To`` or ``Cc`` header (mail
    relayed to us may carry the restaurant's plain address in the envelope)."""
    return [token for token in _addressed(raw, base) if token is not None]


def _one_from(raw: bytes) -> bool:
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        return len(msg.get_all("From", [])) == 1
    except Exception:
        return False


def _aligned(signing_domain: str, from_domain: str) -> bool:
    signing_domain = signing_domain.strip().lower().rstrip(".")
    from_domain = from_domain.strip().lower().rstrip(".")
    if not signing_domain or "." not in signing_domain:
        return False
    return from_domain == signing_domain or from_domain.endswith("." + signing_domain)


class DkimCheck:
    """DKIM signatures verified by ``dkimpy``, aligned with the ``From`` domain.

    ``dnsfunc`` looks up a TXT record (``dnsfunc(name, timeout=...)``, bytes or
    None); the default is dkimpy's resolver. Tests pass one that answers with
    their own public key, so no lookup leaves the machine.
    """

    def __init__(self, dnsfunc: DnsFunc | None = None, *, timeout_s: int = 5) -> None:
        self.dnsfunc = dnsfunc
        self.timeout_s = timeout_s

    def verifies(self, raw: bytes, from_address: str, recipient: str) -> bool:
        """True when one signature verifies over ``raw`` for the sender's domain and
        signs a ``To``/``Cc`` that names ``recipient`` (the restaurant's address).

        Binding the recipient stops a replay: a signed mail the guest once sent
        to someone else, resent to us, proves nothing. A message with two
        ``From`` headers proves nothing either (which one was signed?)."""
        from_domain = from_address.rpartition("@")[2]
        if not from_domain or b"dkim-signature" not in raw[:65536].lower():
            return False
        if not _one_from(raw) or not _addressed(raw, recipient):
            return False
        try:
            checker = dkim.DKIM(raw, timeout=self.timeout_s)
            count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
        except Exception as exc:
            log.info("dkim: unreadable message from %s: %s", from_domain, exc)
            return False
        for index in range(count):
            try:
                ok = (
                    checker.verify(idx=index, dnsfunc=self.dnsfunc)
                    if self.dnsfunc is not None
                    else checker.verify(idx=index)
                )
            except Exception as exc:  # a broken signature or an unreachable DNS proves nothing
                log.info("dkim: signature %d for %s not valid: %s", index, from_domain, exc)
                continue
            domain = (checker.domain or b"").decode("ascii", "replace")
            signed = set(getattr(checker, "include_headers", ()) or ())
            if ok and _aligned(domain, from_domain) and signed & {b"to", b"cc"}:
                return True
        return False
