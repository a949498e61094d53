"""The gateway's responder: parse the guest's message, run the dialogue, reply.

Runs behind the webhook acknowledgement (see :mod:`saveit.messaging.gateway`),
outside any transaction; the gateway saves the returned state with an
optimistic version check and queues the replies in one commit. A turn re-run
after a crash must not book twice: the booking's idempotency key is the
inbound message's public id, so the replay returns the same reservation.

The language is detected per message, with the one remembered for the guest
as the tie-breaker, and the replies use the language of the message they answer.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from saveit.booking.service import BookingService
from saveit.channels.email.proof import DEFAULT_PROOF_TTL, is_proven
from saveit.conversation.desk import Desk
from saveit.conversation.dialogue import Dialogue
from saveit.conversation.linking import Linker
from saveit.conversation.nlu import parse
from saveit.conversation.ports import GuestDirectory, QrAttacher
from saveit.conversation.state import DialogueState
from saveit.conversation.turn import TurnIn
from saveit.messaging.gateway import Reply, Turn
from saveit.store.unit_of_work import Database, database_of
from saveit.waitlist.service import Waitlist

if TYPE_CHECKING:
    from saveit.analytics.survey_chat import SurveyChat

log = logging.getLogger(__name__)


class BotResponder:
    def __init__(
        self,
        booking: BookingService,
        *,
        pending_minutes: int = 30,
        links: Linker | None = None,
        email_proof_ttl: timedelta = DEFAULT_PROOF_TTL,
        guests: GuestDirectory | None = None,
        qr: QrAttacher | None = None,
        waitlist: Waitlist | None = None,
        survey: SurveyChat | None = None,
    ) -> None:
        self.booking = booking
        self.pending_minutes = pending_minutes
        self.email_proof_ttl = email_proof_ttl
        self.links = links  # the codes go out through the gateway this bot answers for
        self.qr = qr  # confirmations carry the check-in QR
        self.waitlist = waitlist  # full times offer the waitlist
        self.guests = guests or StoredGuests(database_of(booking))
        self.survey = survey  # ratings after a visit

    def respond(self, turn: Turn) -> Reply:
        desk = Desk(
            self.booking,
            guests=self.guests,
            slug=turn.restaurant_slug,
            guest_id=turn.identity.guest_id,
            channel=turn.message.channel,
            language=turn.conversation.language,
            qr=self.qr,
            proven=turn.message.channel != "email"
            or is_proven(turn.identity.verified_at, turn.now, self.email_proof_ttl),
        )
        desk.waitlist = self.waitlist
        reading = cache(
            lambda: parse(
                turn.text,
                now=desk.now(),
                lang_hint=turn.conversation.language or desk.guest_language(),
                services=desk.hours,
            )
        )
        if self.survey is not None and (rated := self.survey.answer(turn, reading)) is not None:
            return rated
        state = DialogueState.load(turn.conversation.state)
        misses = state.misses
        understood = reading()
        lang = understood.lang
        desk.language = lang
        dialogue = Dialogue(desk, state, lang, self.pending_minutes, self.links)
        outcome = dialogue.respond(
            TurnIn(
                text=turn.text,
                parse=understood,
                choice=turn.choice,
                message_key=f"chat:{turn.message.public_id}",
                restaurant_name=turn.restaurant_name,
                identity_id=turn.identity.id,
                channel=turn.message.channel,
                address=turn.identity.external_id,
                client_ip=_client_ip(turn),
            )
        )
        log.debug("conversation %s: %s -> %s", turn.conversation.id, understood, state.awaiting)
        return Reply(
            outcome.messages,
            state=state.dump(),
            language=lang,
            handoff=outcome.handoff,
            note="NOT_UNDERSTOOD" if state.misses > misses else None,  # for the analytics
        )


def _client_ip(turn: Turn) -> str | None:
    """The address a web chat message came from (stored with it by the socket)."""
    found = turn.message.body.get("client_ip")
    return found if isinstance(found, str) else None


class StoredGuests:
    """The guest directory in the database: one read on the primary per turn at most
    (the desk keeps the answer), as fresh as the profile name the gateway just saved."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def name_and_language(self, guest_id: int) -> tuple[str, str | None] | None:
        with self.db.reading() as r:
            return r.guests.name_and_language(guest_id)
