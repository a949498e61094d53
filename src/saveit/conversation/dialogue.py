"""The dialogue: one guest message in, replies and the next state out.

A turn reads the parse of the message against what the bot last asked:

- a tapped button or a typed number picks from what was offered;
- an explicit intent (book, cancel, hours, a person …) starts that flow;
- anything else fills the pending request's empty slots or corrects the ones
  already given ("no, mejor a las 22:00", "actually 3 of us").

Then the request moves forward (:mod:`.planning`): the first thing still
missing is asked, the engine's rules and free tables are checked before
anything is proposed, and a yes comes before a booking, move or cancellation.
The engine re-validates every write; what the bot checked earlier is only
courtesy, so a table taken between the question and the "yes" gets the
nearest alternatives rather than an error.

Only the guest's own reservations are ever listed or touched (see
:class:`~saveit.conversation.desk.Desk`).

One dialogue is one object built in layers, each a module a reader can take in
one sitting: :mod:`.speaker` (how a reply is shaped), :mod:`.guest_bookings`
(the guest's own bookings and proving an address), :mod:`.planning` (moving
the request forward), and this module (reading the turn, the yes or no, and
the writes).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from saveit.conversation import filling, linking, menus, waitlist_chat
from saveit.conversation.desk import Desk
from saveit.conversation.filling import has_slots
from saveit.conversation.nlu import Parse
from saveit.conversation.planning import Planner
from saveit.conversation.speaker import Outcome
from saveit.conversation.state import DialogueState, Request
from saveit.conversation.turn import TurnIn
from saveit.domain import errors
from saveit.domain import wording as w
from saveit.domain.messages import Button
from saveit.domain.model import Status


class Dialogue(Planner):
    def __init__(
        self,
        desk: Desk,
        state: DialogueState,
        lang: str,
        pending_minutes: int,
        links: linking.Linker | None = None,
    ) -> None:
        super().__init__(desk, state, lang, links)
        self.pending = timedelta(minutes=pending_minutes)

    # --- entry ------------------------------------------------------------------------

    def respond(self, turn: TurnIn) -> Outcome:
        self.channel = turn.channel
        self.turn = turn
        now = self.desk.now()
        if self.state.expired(now):
            self.state.clear()
        p = turn.parse
        offered_booking = self.state.request is None and self.state.awaiting == "offer_book"
        if offered_booking:
            self.state.awaiting = None
        # Only the bot's own choices are read by id; a button staff offered is read
        # as the words on it.
        picked = turn.choice.id if turn.choice and _ours(turn.choice.id) else None
        understood = True
        booking = p.intent in {"book", "check_availability"}  # answered as a request first
        claim = linking.claim_in(turn.text, turn.channel) if self.links and not booking else None
        code = linking.code_in(turn.text) if self.state.awaiting == "link_code" else None
        if code is not None:
            self._link_confirm(turn, code)
        elif claim is not None and picked is None:
            self._link_request(turn, claim)
        elif picked is not None:
            self._picked(picked, turn)
        elif p.intent == "human_handoff":
            self._handoff("handoff")
        elif self.state.awaiting == "confirm" and p.affirm is not None and not has_slots(p):
            self._confirmed(p.affirm, turn)
        elif offered_booking and p.affirm is not None and p.intent == "unknown":
            if p.affirm:  # "¿Quieres hacer una?" - "sí"
                self._start("book", p)
            else:
                self._send(self._say("kept_none"))
        elif p.intent == "cancel" and not self._correcting(p):
            self._start("cancel", p)
        elif p.intent == "modify" and not self._correcting(p):
            self._start("modify", p)
        elif p.intent == "my_reservations":
            self._list_mine()
        elif p.intent == "opening_hours":
            self._hours(p.date)
        elif booking and not self._correcting(p):
            self._start("book", p)
        elif self.state.request is not None and self._answers(turn):
            self._advance_or_ask(p)
        elif p.intent == "greeting":
            self._greet(turn.restaurant_name)
        else:
            understood = False
            self._not_understood()
        if understood:
            self.state.misses = 0
        if self.state.request is not None:
            self.state.expires_at = (now + self.pending).isoformat()
        return self.out

    def _correcting(self, p: Parse) -> bool:
        """A book/modify/cancel-looking message that only fixes the pending request's
        slots ("no, better at 10", "change it to 3 people") is a correction."""
        request = self.state.request
        if request is None or not has_slots(p):
            return False
        if p.intent == "cancel":
            return False
        # A message that only lists facts ("4 personas, viernes, 21:00") answers the
        # pending change rather than starting a booking.
        return request.flow == "book" or (
            request.flow == "modify" and (p.intent != "book" or p.verbless)
        )

    def _not_understood(self) -> None:
        self.state.misses += 1
        if self.state.misses >= 2:
            self._send(
                self._say("help"),
                buttons=(
                    Button("menu:book", self._say("btn_book")),
                    Button("menu:hours", self._say("btn_hours")),
                    Button("menu:human", self._say("btn_human")),
                ),
            )
            return
        self._send(self._say("not_understood"))
        if self.state.request is not None:
            self._advance()

    # --- choices ------------------------------------------------------------------------

    def _picked(self, picked: str, turn: TurnIn) -> None:
        request = self.state.request
        if picked in {"yes", "no"}:
            self._confirmed(picked == "yes", turn)
        elif picked.startswith("t:") and request is not None:
            local = self.desk.local(datetime.fromisoformat(picked[2:]))
            request.day, request.at = local.date().isoformat(), local.strftime("%H:%M")
            self._advance()
        elif picked.startswith("d:") and request is not None:  # a day of two
            request.day = date.fromisoformat(picked[2:]).isoformat()
            self._advance()
        elif picked.startswith("h:") and request is not None:  # a time of two
            request.at = time.fromisoformat(picked[2:]).strftime("%H:%M")
            self._advance()
        elif picked.startswith("p:") and request is not None:  # another time that day
            request.at = None
            self._offer_part(request, picked[2:])
        elif picked.startswith("r:") and request is not None:
            request.code = picked[2:]
            self._advance()
        elif picked.startswith("rem:"):
            self._reminder_answer(picked)
        elif picked.startswith(waitlist_chat.PREFIX):
            self.state.clear()
            self.out.messages.extend(waitlist_chat.answer(self.desk, self.lang, picked))
        elif picked == "menu:book":
            self._start("book", None)
        elif picked == "menu:mine":
            self._list_mine()
        elif picked == "menu:hours":
            self._hours(None)
        elif picked == "menu:human":
            self._handoff("handoff")
        else:  # a stale button from an expired request
            self.state.clear()
            self._send(self._say("expired"), buttons=self._menu())

    def _reminder_answer(self, picked: str) -> None:
        """A reminder's buttons: coming (noted for staff), change it, or cancel it
        (both through the usual flow, which checks the booking is this guest's)."""
        _, action, code = [*picked.split(":", 2), "", ""][:3]
        if action in {"change", "cancel"}:
            self.state.request = Request(flow="modify" if action == "change" else "cancel")
            self.state.request.code = code
            self.state.awaiting = None
            self._advance()
            return
        try:
            view = self.desk.confirm_attendance(code)
        except (LookupError, errors.DomainError):
            self._list_mine()  # not (or no longer) an upcoming booking of theirs
            return
        local = self.desk.local(view.start)
        self._send(self._say("see_you", day=w.day(self.lang, local.date()), time=w.clock(local)))

    # --- filling the request ---------------------------------------------------------------

    def _start(self, flow: str, p: Parse | None) -> None:
        current = self.state.request
        if current is None or current.flow != flow:
            self.state.request = Request(flow=flow)
            self.state.awaiting = None
        if p is not None:
            self._fill(p)
        self._advance_or_ask(p)

    def _fill(self, p: Parse) -> None:
        assert self.state.request is not None
        filling.fill(self.state.request, p, self.desk)

    def _answers(self, turn: TurnIn) -> bool:
        assert self.state.request is not None
        return filling.answer(
            self.state.request, turn.parse, turn.text, self.state.awaiting, self.desk
        )

    # --- the yes / no -------------------------------------------------------------------------

    def _confirmed(self, yes: bool, turn: TurnIn) -> None:
        request = self.state.request
        if request is None or self.state.awaiting != "confirm":
            self._greet(turn.restaurant_name)
            return
        if not yes:
            if request.flow == "book":
                self.state.awaiting = None
                self._send(self._say("what_to_change"))
            else:
                self.state.clear()
                self._send(self._say("kept"))
            return
        try:
            if request.flow == "book":
                self._book(request, turn.message_key)
            elif request.flow == "modify":
                self._move(request)
            else:
                self._cancel(request)
        except errors.SlotTaken:
            start = self.desk.instant(
                request.date or self.desk.now().date(), request.time or time(0)
            )
            self._offer_alternatives(request, start, request.party_size or 2, "taken")
        except errors.TooLateToCancel as exc:
            self._handoff("too_late_cancel", hours=_hours(exc))
        except errors.TooLateToChange as exc:
            self._handoff("too_late_change", hours=_hours(exc))
        except (errors.DomainError, LookupError):
            self._handoff("error")

    def _book(self, request: Request, key: str) -> None:
        assert request.date is not None
        assert request.time is not None
        assert request.party_size is not None
        made = self.desk.book(
            self.desk.instant(request.date, request.time),
            request.party_size,
            request.name or "",
            request.area,
            key,
        )
        self.state.clear()
        if made.status is Status.PENDING:  # the restaurant approves this guest's bookings
            self._send(self._say("booked_pending", **self._facts(made)))
            return
        self._send_with_qr(self._say("booked", **self._facts(made)), made)

    def _move(self, request: Request) -> None:
        assert request.code is not None
        assert request.date is not None
        assert request.time is not None
        assert request.party_size is not None
        moved = self.desk.move(
            request.code, self.desk.instant(request.date, request.time), request.party_size
        )
        self.state.clear()
        self._send_with_qr(self._say("modified", **self._facts(moved)), moved)

    def _cancel(self, request: Request) -> None:
        assert request.code
        cancelled = self.desk.cancel(request.code)
        self.state.clear()
        self._send(self._say("cancelled", **self._facts(cancelled)))

    def _hours(self, day: date | None) -> None:
        self._send(menus.opening_hours(self.desk, self.lang, day))


def _ours(choice_id: str) -> bool:
    return choice_id in {"yes", "no"} or choice_id.startswith(
        ("t:", "r:", "menu:", "rem:", "d:", "h:", "p:", "wl:")
    )


def _hours(exc: errors.DomainError) -> int:
    return max(1, int(exc.data.get("cutoff_minutes", 60)) // 60)
