"""Linking a guest's identities with proof.

WhatsApp and SMS with the same number are one guest without asking (the
number is the identity on both). Any other link — an Instagram or web chat
guest saying "I am +34 600…" or "I am ana@…" — needs a one-time code sent over
the channel that already reaches that phone or address; whoever can read it
owns it. Until the code is confirmed nothing changes and nothing is revealed:
the answer to a claim is the same whether or not anyone has that contact, and
a wrong code tells only that it is wrong (five tries, ten minutes).

On confirmation the claiming guest is merged into the guest who owns the
contact, in one transaction: reservations, identities and the conversation
move, so the guest continues the same conversation on the new channel. When
nobody owns the contact yet, the claiming guest simply gains it.

An email sender may also claim its own ``From`` address: the code then proves
that it reads that mailbox (:mod:`saveit.channels.email_proof`), and confirming
it marks the identity verified instead of linking anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, update
from sqlalchemy.exc import IntegrityError

from saveit.channels.gateway import Gateway
from saveit.domain import errors, events
from saveit.domain.messages import OutboundMessage
from saveit.ratelimit.abuse import AbuseLimits
from saveit.store import channel_accounts as accounts
from saveit.store import conversations as convs
from saveit.store import guests as guest_store
from saveit.store import messages as store
from saveit.store.outbox import emit
from saveit.store.schema import guests

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Which identity of the owner carries the code, best first.
_PHONE_CHANNELS = ("whatsapp", "sms")


class LinkCodeInvalid(errors.DomainError):
    """Wrong, expired or used-up code; ``attempts_left`` says how many tries remain."""

    code = "LINK_CODE_INVALID"


class CannotVerify(errors.DomainError):
    """No channel of this restaurant can carry a code to that phone or address."""

    code = "CANNOT_VERIFY"


def _message(code: str) -> OutboundMessage:
    return OutboundMessage(
        text=f"Tu código de verificación es {code}. Caduca en 10 minutos.\n"
        f"Your verification code is {code}. It expires in 10 minutes.",
        subject="Código de verificación / Verification code",
    )


def _own_address(requester: convs.Identity, contact: str) -> bool:
    """The code went to the email address this identity writes from (see
    :mod:`saveit.channels.email_proof`): confirming it proves the address."""
    return requester.channel == "email" and requester.external_id.lower() == contact.lower()


class IdentityLinks:
    def __init__(
        self,
        engine: Engine,
        gateway: Gateway,
        *,
        secret: bytes,
        clock: Callable[[], datetime],
        phone_region: str = "ES",
        abuse: AbuseLimits | None = None,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.secret = secret
        self.clock = clock
        self.phone_region = phone_region
        self.abuse = abuse  # caps codes per contact, per client IP, per restaurant and day

    def _hash(self, identity_id: int, code: str) -> str:
        return hmac.new(
            self.secret, f"link:{identity_id}:{code}".encode(), hashlib.sha256
        ).hexdigest()

    def request(
        self,
        identity_id: int,
        *,
        phone: str | None = None,
        email: str | None = None,
        client_ip: str | None = None,
    ) -> None:
        """Send a code to the claimed phone or email over a channel that reaches it;
        ``CodesCapped`` when the contact, the client's IP (the web chat carries it) or
        the restaurant had too many codes."""
        if (phone is None) == (email is None):
            raise errors.ValidationFailed("Claim either a phone or an email", field="contact")
        contact = (
            guest_store.normalise_phone(phone, self.phone_region)
            if phone is not None
            else guest_store.normalise_email(email or "")
        )
        now = self.clock()
        code = f"{secrets.randbelow(1_000_000):06d}"
        with self.engine.begin() as conn:
            requester = convs.identity(conn, identity_id)
            if requester is None:
                raise errors.NotFound(f"No identity {identity_id}")
            restaurant_id = requester.restaurant_id
            owner = convs.guest_by_contact(
                conn,
                restaurant_id,
                phone=contact if phone else None,
                email=contact if email else None,
            )
            route = self._route(conn, restaurant_id, owner, contact, is_phone=phone is not None)
            if route is None:
                raise CannotVerify(
                    "This restaurant has no channel that can send a code to that contact"
                )
            channel, address, via = route
            if self.abuse is not None:
                self.abuse.check_code(
                    restaurant_id=restaurant_id, contact=contact, client_ip=client_ip
                )
            convs.add_link_code(
                conn,
                restaurant_id=restaurant_id,
                identity_id=identity_id,
                guest_id=owner,
                contact=contact,
                code_hash=self._hash(identity_id, code),
                expires_at=now + CODE_TTL,
                now=now,
            )
            store.enqueue(
                conn,
                restaurant_id=restaurant_id,
                channel=channel,
                address=address,
                identity_id=via,
                conversation_id=None,
                message=_message(code),
                author="system:link",
                now=now,
            )
        self.gateway.delivery.ready.set()

    @staticmethod
    def _route(
        conn: Connection, restaurant_id: int, owner: int | None, contact: str, *, is_phone: bool
    ) -> tuple[str, str, int | None] | None:
        """(channel, address, identity id) the code goes out on: an identity of the
        owner on that contact, else the restaurant's account that reaches it."""
        wanted = _PHONE_CHANNELS if is_phone else ("email",)
        if owner is not None:
            known = {
                i.channel: i for i in convs.identities_of(conn, owner) if i.external_id == contact
            }
            for channel in wanted:
                if channel in known:
                    return channel, contact, known[channel].id
        for channel in ("sms", "whatsapp") if is_phone else ("email",):
            if accounts.find(conn, restaurant_id, channel) is not None:
                return channel, contact, None
        return None

    def confirm(self, identity_id: int, code: str) -> int:
        """Check the code; on success merge and return the guest id the identity now has."""
        now = self.clock()
        with self.engine.begin() as conn:
            pending = convs.live_link_code(conn, identity_id, now)
            if pending is None:
                raise LinkCodeInvalid(
                    "No verification code is pending, or it expired", attempts_left=0
                )
            given = self._hash(identity_id, code.strip())
            if not hmac.compare_digest(given, pending.code_hash):
                left = MAX_ATTEMPTS - pending.attempts - 1
                convs.count_attempt(conn, pending.id, exhausted=left <= 0, now=now)
                failed = LinkCodeInvalid("That code is not right", attempts_left=max(left, 0))
            else:
                failed = None
                requester = convs.identity(conn, identity_id)
                assert requester is not None
                target = pending.guest_id
                if _own_address(requester, pending.contact):
                    # An email sender proving its own From address: nothing to link.
                    convs.consume_link_code(conn, pending.id, now)
                    convs.mark_verified(conn, requester.id, "code", now)
                    return requester.guest_id
                if target is None:
                    target = convs.guest_by_contact(
                        conn,
                        requester.restaurant_id,
                        phone=pending.contact if pending.contact.startswith("+") else None,
                        email=None if pending.contact.startswith("+") else pending.contact,
                    )
                convs.consume_link_code(conn, pending.id, now)
                if target is None:
                    column = "phone" if pending.contact.startswith("+") else "email"
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                update(guests)
                                .where(guests.c.id == requester.guest_id)
                                .values({column: pending.contact, "updated_at": now})
                            )
                    except IntegrityError as exc:  # claimed by someone else meanwhile
                        raise errors.Conflict("That contact was just linked elsewhere") from exc
                    target = requester.guest_id
                else:
                    convs.merge_guests(conn, source=requester.guest_id, target=target, now=now)
                    emit(
                        conn,
                        restaurant_id=requester.restaurant_id,
                        type_=events.GUESTS_MERGED,
                        payload={"guest_id": target, "merged": requester.guest_id},
                        at=now,
                    )
        if failed is not None:  # the attempt is counted (committed) before refusing
            raise failed
        assert target is not None
        return target
