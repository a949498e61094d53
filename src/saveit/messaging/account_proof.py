"""Proving that a restaurant owns the channel address it claims, before it routes.

A manager's claim on a WhatsApp number id, Instagram account, SMS number or
email address is stored pending: inbound messages to it stay unrouted and
nothing is sent from it until one of these proves it:

* **WhatsApp, Instagram** — the Graph API reads the number (``display_phone_number,
  verified_name``) or the account (``id,username``) with the restaurant's own
  access token and answers with that very id: the token can use it. Done at
  ``PUT`` time; a Graph API that cannot be reached leaves the claim pending for
  ``POST …/verify`` to try again. A refusal (4xx) changes nothing, and on
  re-verification turns a proven account back to pending.
* **Email** — a 6-digit code goes to the address through the SMTP relay; the
  manager submits it (5 tries, 30 minutes, a fresh code at most once a minute).
* **SMS** — the deployment's Twilio account owns every number, and a code sent
  to one would arrive at our own webhook, where the manager cannot read it:
  numbers are assigned by the deployment admin.

The admin token assigns any address directly. One restaurant's proof wins an
address; pending claims never block another restaurant from proving its own.
Every refusal reads the same whoever holds the address, and names nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from saveit.domain.channel_ports import ChannelAccount, SendContext, Sender, SendFailed
from saveit.domain.errors import DomainError, Forbidden, NotFound
from saveit.domain.messages import ChannelName, OutboundMessage
from saveit.store import channel_accounts as accounts
from saveit.store import tenancy
from saveit.store.secret_box import SecretBox
from saveit.store.unit_of_work import Database, DatabaseLike, Repositories, database_of

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=30)
CODE_TRIES = 5
RESEND_AFTER = timedelta(minutes=1)
GRAPH_CHANNELS = frozenset({"whatsapp", "instagram"})


class ChannelNotProven(DomainError):
    """The proof was refused: the Graph API does not let this token use the id, or
    the code is wrong or expired (``attempts_left`` says how many tries remain)."""

    code = "CHANNEL_NOT_PROVEN"


class ProviderUnavailable(DomainError):
    """The Graph API could not be asked (timeout, 5xx): try again later."""

    code = "PROVIDER_UNAVAILABLE"


class CodeTooSoon(DomainError):
    code = "RATE_LIMITED"


class Verdict(Enum):
    PROVEN = "proven"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


class Ownership(Protocol):
    """Whether an access token can use a provider's account id (the Graph API's
    answer for WhatsApp and Instagram: :mod:`saveit.channels.meta.ownership`)."""

    def check(self, channel: str, node: str, token: str) -> Verdict: ...


class AccountProofs:
    """Claims and proofs of channel accounts; the channel routes call this."""

    def __init__(
        self,
        engine: Database | DatabaseLike,
        box: SecretBox,
        *,
        graph: Ownership,
        senders: Mapping[str, Sender],
        secret: bytes,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = database_of(engine)
        self.box = box
        self.graph = graph
        self.senders = senders
        self.secret = secret
        self.clock = clock

    # --- claims ------------------------------------------------------------------------

    def claim(
        self,
        restaurant_id: int,
        channel: ChannelName,
        address: str,
        settings: Mapping[str, Any],
        *,
        admin: bool,
    ) -> accounts.Claim:
        """Store the restaurant's account on ``channel``: proven at once when the admin
        assigns it or the Graph API confirms it, pending otherwise."""
        now = self.clock()
        proven_by: str | None = "admin" if admin else None
        if not admin and channel in GRAPH_CHANNELS:
            verdict = self.graph.check(channel, address, str(settings["access_token"]))
            if verdict is Verdict.REFUSED:
                raise ChannelNotProven(_GRAPH_REFUSED[channel])
            proven_by = "graph" if verdict is Verdict.PROVEN else None
        code: str | None = None
        with self.db.unit_of_work() as uow:
            uow.accounts.put(
                restaurant_id,
                channel,
                address,
                settings,
                now,
                box=self.box,
                proven_by=proven_by,
            )
            claim = uow.accounts.claim_of(restaurant_id, channel, self.box)
            assert claim is not None
            if channel == "email" and not claim.proven:
                code = self._new_code(uow, restaurant_id, channel, address, now)
        if code is not None:
            self._send_code(restaurant_id, address, code)
        return self._current(restaurant_id, channel)

    def verify(
        self, restaurant_id: int, channel: ChannelName, code: str | None, *, admin: bool
    ) -> accounts.Claim:
        """Prove the restaurant's claim on ``channel``: the admin's word, the Graph API
        asked again, or the emailed code (none given: send a fresh one)."""
        claim = self._current(restaurant_id, channel)
        now = self.clock()
        if admin:
            with self.db.unit_of_work() as uow:
                uow.accounts.prove(restaurant_id, channel, by="admin", now=now)
        elif channel in GRAPH_CHANNELS:
            self._verify_graph(claim, now)
        elif channel == "sms":
            raise Forbidden("SMS numbers are assigned by the deployment admin")
        elif not claim.proven:
            if code is None:
                self._resend(claim, now)
            else:
                self._check_code(claim, code, now)
        return self._current(restaurant_id, channel)

    # --- Graph -------------------------------------------------------------------------

    def _verify_graph(self, claim: accounts.Claim, now: datetime) -> None:
        account = claim.account
        with self.db.reading() as r:
            token = _token(r, account, self.box)
        verdict = self.graph.check(account.channel, account.address, token)
        if verdict is Verdict.UNREACHABLE:
            raise ProviderUnavailable("The Graph API could not be reached; try again shortly")
        with self.db.unit_of_work() as uow:
            if verdict is Verdict.PROVEN:
                uow.accounts.prove(account.restaurant_id, account.channel, by="graph", now=now)
                return
            uow.accounts.unprove(account.restaurant_id, account.channel, now=now)
        raise ChannelNotProven(_GRAPH_REFUSED[account.channel])

    # --- codes -------------------------------------------------------------------------

    def _digest(self, restaurant_id: int, channel: str, address: str, code: str) -> str:
        message = f"channel-proof:{restaurant_id}:{channel}:{address}:{code}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def _new_code(
        self, uow: Repositories, restaurant_id: int, channel: str, address: str, now: datetime
    ) -> str | None:
        """A fresh code for the pending claim; None (nothing sent, the answer looks the
        same) when another restaurant already holds the address proven, so no one can
        have its owner mailed codes or learn who holds what."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        uow.accounts.set_code(
            restaurant_id,
            channel,
            proof_hash=self._digest(restaurant_id, channel, address, code),
            expires_at=now + CODE_TTL,
        )
        if self._proven_elsewhere(restaurant_id, channel, address):
            return None
        return code

    def _proven_elsewhere(self, restaurant_id: int, channel: str, address: str) -> bool:
        """Across restaurants on purpose, on a connection of its own: in a manager's
        request, row-level security scopes every transaction to their restaurant
        (saveit.store.tenancy) and would hide the other holder."""
        with tenancy.tenant_scope(None), self.db.reading() as r:
            return r.accounts.proven_elsewhere(restaurant_id, channel, address)

    def _send_code(self, restaurant_id: int, address: str, code: str) -> None:
        sender = self.senders.get("email")
        if sender is None:
            log.warning("no SMTP relay: the proof code for an email claim was not sent")
            return
        with self.db.reading() as r:
            name = r.accounts.restaurant_name(restaurant_id)
        text = (
            f"Your code to connect {address} to {name} on SaveIt: {code}\n"
            f"It expires in {int(CODE_TTL.total_seconds() // 60)} minutes. If you did not "
            "ask for it, ignore this mail: the address stays unconnected."
        )
        message = OutboundMessage(text=text, subject=f"SaveIt code: {code}")
        context = SendContext(
            message_id=f"proof-{secrets.token_hex(8)}", restaurant_name=name, now=self.clock()
        )
        try:
            sender.send(ChannelAccount(restaurant_id, "email", address), address, message, context)
        except SendFailed as exc:
            log.warning("the proof code for an email claim was not sent: %s", exc.detail)

    def _resend(self, claim: accounts.Claim, now: datetime) -> None:
        expires = claim.code_expires_at
        if expires is not None and now < expires - CODE_TTL + RESEND_AFTER:
            raise CodeTooSoon("A code was sent less than a minute ago", retry_after=60)
        account = claim.account
        with self.db.unit_of_work() as uow:
            code = self._new_code(uow, account.restaurant_id, "email", account.address, now)
        if code is not None:
            self._send_code(account.restaurant_id, account.address, code)

    def _check_code(self, claim: accounts.Claim, code: str, now: datetime) -> None:
        account = claim.account
        with self.db.unit_of_work() as uow:
            pending = uow.accounts.code_of(account.restaurant_id, account.channel)
            if pending is None or pending[1] <= now or pending[2] >= CODE_TRIES:
                refusal = ChannelNotProven(
                    "No code is pending, or it expired: ask for a new one", attempts_left=0
                )
            else:
                digest, expires, attempts = pending
                wanted = self._digest(account.restaurant_id, account.channel, account.address, code)
                if hmac.compare_digest(digest, wanted):
                    uow.accounts.prove(account.restaurant_id, account.channel, by="code", now=now)
                    return
                uow.accounts.set_code(
                    account.restaurant_id,
                    account.channel,
                    proof_hash=digest,
                    expires_at=expires,
                    attempts=attempts + 1,
                )
                refusal = ChannelNotProven(
                    "That code is not right", attempts_left=CODE_TRIES - attempts - 1
                )
        raise refusal

    def _current(self, restaurant_id: int, channel: str) -> accounts.Claim:
        with self.db.reading() as r:
            claim = r.accounts.claim_of(restaurant_id, channel, self.box)
        if claim is None:
            raise NotFound(f"No {channel} account")
        return claim


def _token(r: Repositories, account: ChannelAccount, box: SecretBox) -> str:
    settings = r.accounts.settings_of(account.restaurant_id, account.channel, box)
    return str(settings.get("access_token", ""))


_GRAPH_REFUSED = {
    "whatsapp": "The Graph API does not confirm this phone number id for this access token",
    "instagram": "The Graph API does not confirm this Instagram account for this access token",
}
