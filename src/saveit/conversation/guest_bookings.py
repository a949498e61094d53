"""What the guest may see of their own bookings, and proving an address to see them.

A sender who has not proven the address it writes from (an email's ``From``
alone proves nothing) may ask and book but sees none of the guest's bookings:
a code goes to that address, or a reply to our mail proves it. A web chat or
Instagram guest who writes a phone or an address gets a code there (see
:mod:`.linking`); the right code merges the chat into that guest.
"""

from __future__ import annotations

from saveit.conversation import linking, menus, waitlist_chat
from saveit.conversation.desk import Desk
from saveit.conversation.speaker import Speaker
from saveit.conversation.state import DialogueState
from saveit.conversation.turn import TurnIn
from saveit.domain import errors


class GuestBookings(Speaker):
    def __init__(
        self,
        desk: Desk,
        state: DialogueState,
        lang: str,
        links: linking.Linker | None = None,
    ) -> None:
        super().__init__(desk, state, lang)
        self.links = links
        self.channel = ""
        self.turn: TurnIn | None = None

    def _list_mine(self) -> None:
        if not self.desk.proven:
            self._offer_proof()
            return
        mine = self.desk.upcoming()
        waiting = waitlist_chat.entries_message(self.desk, self.lang)
        if not mine:
            if waiting:
                self.out.messages.append(waiting)
            self._none_upcoming()
            return
        self._send(menus.bookings_list(self.desk, self.lang, mine))
        if waiting:
            self.out.messages.append(waiting)

    def _none_upcoming(self) -> None:
        self.state.awaiting = "offer_book"
        text = self._say("no_upcoming")
        if self.links is not None and self.channel in linking.LINKABLE - {"email"}:
            text = f"{text}\n{self._say('link_hint')}"
        self._send(text, buttons=self._menu())

    # --- proving a phone or email ------------------------------------------------------

    def _offer_proof(self) -> None:
        """The sender has not proven the address it writes from: its bookings stay
        hidden. A code goes to that address; a reply to our mail proves it too."""
        turn = self.turn
        sent = False
        if self.links is not None and turn is not None and turn.address:
            try:
                key, _ = linking.request(
                    self.links, turn.identity_id, linking.Claim(email=turn.address)
                )
            except errors.DomainError:  # e.g. too many codes today: the reply still proves
                key = ""
            sent = key == "link_sent"
        if sent:
            self.state.awaiting = "link_code"
        contact = turn.address if turn is not None else ""
        self._send(self._say("prove_sent" if sent else "prove_reply", contact=contact))

    def _link_request(self, turn: TurnIn, claim: linking.Claim) -> None:
        assert self.links is not None
        key, values = linking.request(self.links, turn.identity_id, claim, turn.client_ip)
        if key == "link_sent":
            self.state.awaiting = "link_code"
        self._send(self._say(key, **values))

    def _link_confirm(self, turn: TurnIn, code: str) -> None:
        assert self.links is not None
        guest, key, left = linking.confirm(self.links, turn.identity_id, code)
        if guest is None:
            if key != "link_wrong":
                self.state.awaiting = None
            self._send(self._say(key, left=left))
            return
        self.state.awaiting = None
        self.desk.guest_id = guest
        self.desk.proven = True  # the code reached this address: the sender reads it
        self._send(self._say(key))
        self._list_mine()
