"""The responder when the bot is off (``SAVEIT_CHAT_BOT=false``): a staff inbox.

Guests get one acknowledgement when they first write (in Spanish and English,
since nothing yet tells which they speak); everything they write lands in the
conversation that staff read and answer from the dashboard API.
"""

from __future__ import annotations

from saveit.domain.messages import OutboundMessage
from saveit.messaging.gateway import Reply, Turn


class InboxResponder:
    def respond(self, turn: Turn) -> Reply:
        if not turn.first_contact:
            return Reply()
        name = turn.restaurant_name
        return Reply(
            [
                OutboundMessage(
                    text=f"¡Gracias por escribir a {name}! Te respondemos enseguida.\n"
                    f"Thanks for writing to {name}! We will get back to you shortly.",
                    subject=name,
                )
            ]
        )
