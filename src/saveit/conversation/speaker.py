"""How the dialogue speaks: the shapes of its replies, in one place.

Every reply is an :class:`~saveit.domain.messages.OutboundMessage` in the turn's
language: a plain line, a question with buttons or a list (rendered as numbered
lines where a channel has neither), the yes/no before anything is written, the
menu offered when the bot is lost, and a confirmation with the check-in QR. A
question also records what the bot now awaits, so the next message is read as
its answer. :class:`~saveit.conversation.dialogue.Dialogue` decides *what* to
say; this class only says it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from saveit.conversation import menus
from saveit.conversation import replies as r
from saveit.conversation.desk import Desk
from saveit.conversation.menus import Menu
from saveit.conversation.state import DialogueState
from saveit.domain import wording as w
from saveit.domain.messages import Button, ListOption, OutboundMessage
from saveit.domain.views import ReservationView


@dataclass(slots=True)
class Outcome:
    messages: list[OutboundMessage] = field(default_factory=list)
    handoff: bool = False


class Speaker:
    def __init__(self, desk: Desk, state: DialogueState, lang: str) -> None:
        self.desk = desk
        self.state = state
        self.lang = lang
        self.out = Outcome()

    def _say(self, key: str, **values: object) -> str:
        return r.say(self.lang, key, **values)

    def _send(
        self,
        text: str,
        *,
        buttons: tuple[Button, ...] = (),
        options: tuple[ListOption, ...] = (),
        label: str = "",
    ) -> None:
        self.out.messages.append(
            OutboundMessage(text=text, buttons=buttons, options=options, options_label=label)
        )

    def _send_with_qr(self, text: str, view: ReservationView) -> None:
        caption = w.say(self.lang, "qr_caption", code=view.code)
        self.out.messages.append(self.desk.with_qr(OutboundMessage(text=text), view, caption))

    def _ask(self, awaiting: str, text: str, menu: Menu | None = None) -> None:
        self.state.awaiting = awaiting
        menu = menu or Menu()
        self._send(text, buttons=menu.buttons, options=menu.options, label=menu.label)

    def _yes_no(self) -> tuple[Button, ...]:
        return (Button("yes", self._say("yes")), Button("no", self._say("no")))

    def _menu(self) -> tuple[Button, ...]:
        return (
            Button("menu:book", self._say("btn_book")),
            Button("menu:mine", self._say("btn_mine")),
            Button("menu:human", self._say("btn_human")),
        )

    def _handoff(self, key: str, **values: object) -> None:
        self.state.clear()
        self.out.handoff = True
        self._send(self._say(key, **values))

    def _facts(self, booking: ReservationView) -> dict[str, object]:
        return menus.facts(self.desk, self.lang, booking)
