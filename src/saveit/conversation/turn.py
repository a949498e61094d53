"""One guest message as the dialogue reads it.

The gateway's :class:`~saveit.messaging.gateway.Turn` carries rows (the
conversation, the identity, the stored message); the dialogue needs only what
the guest said and a few facts about where from, so it can run without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from saveit.conversation.nlu import Parse
from saveit.domain.messages import Choice


@dataclass(frozen=True, slots=True)
class TurnIn:
    text: str
    parse: Parse
    choice: Choice | None
    message_key: str  # unique per inbound message: the booking's idempotency key
    restaurant_name: str
    identity_id: int = 0
    channel: str = "webchat"
    address: str = ""  # the sender's address on the channel (an email's From)
    client_ip: str | None = None  # the web chat visitor's, for the caps on codes
