"""The dialogue: one guest message in, replies and the next state out.

A turn reads the parse of the message against what the bot last asked:

- a tapped button or a typed number picks from what was offered;
- an explicit intent (book, cancel, hours, a person …) starts that flow;
- anything else fills the pending request's empty slots or corrects the ones
  already given ("no, mejor a las 22:00", "actually 3 of us").

Then :meth:`Dialogue._advance` asks for the first thing still missing, one
question at a time, checks the engine's rules and free tables before
proposing anything, and asks for a yes before it books, moves or cancels.
The engine re-validates every write; what the bot checked earlier is only
courtesy, so a table taken between the question and the "yes" gets the
nearest alternatives rather than an error.

Only the guest's own reservations are ever listed or touched (see
:class:`~saveit.conversation.desk.Desk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from saveit.conversation import filling, linking, menus
from saveit.conversation import replies as r
from saveit.conversation.day_parts import in_part
from saveit.conversation.desk import Desk
from saveit.conversation.filling import has_slots
from saveit.conversation.menus import Menu
from saveit.conversation.nlu import Parse
from saveit.conversation.speaker import Outcome, Speaker
from saveit.conversation.state import DialogueState, Request
from saveit.domain import errors
from saveit.domain.messages import Button, Choice
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from saveit.waitlist import chat as waitlist_chat


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


class Dialogue(Speaker):
    def __init__(
        self,
        desk: Desk,
        state: DialogueState,
        lang: str,
        pending_minutes: int,
        links: linking.Linker | None = None,
    ) -> None:
        super().__init__(desk, state, lang)
        self.links = links
        self.pending = timedelta(minutes=pending_minutes)
        self.channel = ""
        self.turn: TurnIn | None = None

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

    # --- what to say when nothing is pending -------------------------------------------------

    def _greet(self, restaurant: str) -> None:
        if self.state.request is not None:
            self._advance()  # a hello mid-flow: repeat the pending question
            return
        self._send(self._say("welcome", restaurant=restaurant), buttons=self._menu())

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
        self._send(self._say("see_you", day=r.day(self.lang, local.date()), time=r.clock(local)))

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

    # --- a day or time the message left open ------------------------------------------------

    def _advance_or_ask(self, p: Parse | None) -> None:
        """A doubt the parser flagged is asked first, its readings as buttons; the
        slot it concerns is emptied, so no earlier value stands in for the answer."""
        request = self.state.request
        doubt = p.ambiguity if p is not None else None
        if doubt is None or request is None:
            self._advance()
            return
        if doubt.kind == "weekday_date" and len(doubt.dates) == 2:
            said, numbered = doubt.dates
            request.day = None
            buttons = tuple(
                Button(f"d:{d.isoformat()}", r.short_day(self.lang, d)) for d in (said, numbered)
            )
            text = self._say(
                "which_day",
                date=r.day(self.lang, numbered),
                weekday=r.weekday_name(self.lang, said.weekday()),
            )
            self._ask("date", text, Menu(buttons))
            return
        if not doubt.times:
            self._advance()
            return
        request.at = None
        buttons = tuple(Button(f"h:{r.clock(t)}", r.clock(t)) for t in doubt.times)
        if doubt.kind == "two_services":
            am, pm = doubt.times[0], doubt.times[-1]
            text = self._say("which_service", am=r.clock(am), pm=r.clock(pm))
        else:
            text = self._say("which_time", time=r.clock(doubt.times[0]))
            if doubt.part is not None:
                buttons += (Button(f"p:{doubt.part}", self._say(f"btn_part_{doubt.part}")),)
        self._ask("time", text, Menu(buttons))

    def _offer_part(self, request: Request, part: str) -> None:
        """The free times of the part of the day the guest meant."""
        day, party = request.date, request.party_size
        if day is None or party is None:  # a change keeps its party: ask the time in words
            self._ask("time", self._say("ask_time_plain"))
            return
        starts = [
            s
            for s in self.desk.free_starts(day, party, request.area, exclude=request.code)
            if in_part(self.desk.local(s).time(), part)
        ]
        if not starts:
            self._advance()
            return
        self._ask(
            "time",
            self._say("ask_time", day=r.day(self.lang, day)),
            menus.times(self.desk, self.lang, starts, day),
        )

    # --- moving the request forward ----------------------------------------------------------

    def _advance(self) -> None:
        request = self.state.request
        if request is None:
            self._greet("")
            return
        if request.flow == "book":
            self._advance_booking(request)
        else:
            self._advance_change(request)

    def _advance_booking(self, request: Request) -> None:
        day = request.date
        if day is None:
            self._ask("date", self._say("ask_date"))
            return
        if not self.desk.hours(day):
            request.day = None
            self._ask("date", self._say("closed_day", day=r.day(self.lang, day)))
            return
        if request.party_size is None:
            self._ask("party_size", self._say("ask_party"))
            return
        limit = self.desk.restaurant.rules.max_party_size
        if request.party_size > limit:
            self._handoff("party_too_large", max=limit)
            return
        if request.time is None:
            self._offer_day(request, day, request.party_size)
            return
        start = self.desk.instant(day, request.time)
        if not self._allowed(request, start, request.party_size, day):
            return
        free = self.desk.free_starts(day, request.party_size, request.area)
        if start not in free:
            self._offer_alternatives(request, start, request.party_size, "taken")
            return
        name = request.name or self.desk.guest_name()
        if not name:
            self._ask("name", self._say("ask_name"))
            return
        request.name = name
        self._ask(
            "confirm",
            self._say(
                "confirm_booking",
                party=r.party(self.lang, request.party_size),
                day=r.day(self.lang, day),
                time=r.clock(request.time),
                name=self._say("under_name", name=name),
                area=self._say(request.area) if request.area else "",
            ),
            Menu(self._yes_no()),
        )

    def _allowed(self, request: Request, start: datetime, party: int, day: date) -> bool:
        """The engine's rules for this start; on a break, say why and what instead."""
        try:
            self.desk.check(start, party)
        except errors.OutsideOpeningHours:
            request.at = None
            starts = self.desk.free_starts(day, party, request.area, exclude=request.code)
            if starts:
                self._ask(
                    "time",
                    self._say("outside_hours", time=r.clock(self.desk.local(start))),
                    menus.times(self.desk, self.lang, starts, day),
                )
            else:
                self._ask("date", self._say("day_full", day=r.day(self.lang, day), party=party))
            return False
        except errors.TooSoon:
            request.at = None
            rules = self.desk.restaurant.rules
            self._ask("time", self._say("too_soon", minutes=rules.min_lead_minutes))
            return False
        except errors.TooFarAhead:
            request.day = None
            rules = self.desk.restaurant.rules
            self._ask("date", self._say("too_far", days=rules.max_days_ahead))
            return False
        except errors.PartyTooLarge:
            self._handoff("party_too_large", max=self.desk.restaurant.rules.max_party_size)
            return False
        return True

    def _offer_day(self, request: Request, day: date, party: int) -> None:
        starts = self.desk.free_starts(day, party, request.area, exclude=request.code)
        if starts:
            self._ask(
                "time",
                self._say("ask_time", day=r.day(self.lang, day)),
                menus.times(self.desk, self.lang, starts, day),
            )
            return
        opening = self.desk.hours(day)[0].opens
        self._offer_alternatives(request, self.desk.instant(day, opening), party, "day_full")

    def _offer_alternatives(self, request: Request, start: datetime, party: int, key: str) -> None:
        local = self.desk.local(start)
        request.at = None
        found = self.desk.alternatives(start, party, exclude=request.code)
        lead = self._say(
            key,
            time=r.clock(local),
            day=r.day(self.lang, local.date()),
            party=r.party(self.lang, party),
        )
        text = (
            lead
            if found
            else f"{lead}\n{self._say('no_alternatives', party=r.party(self.lang, party))}"
        )
        menu = menus.times(self.desk, self.lang, found, None) if found else Menu()
        if request.flow == "book":  # "¿te aviso si se libera algo?"
            text, menu = waitlist_chat.with_join(
                self.desk, self.lang, text, menu, start, party, request.area
            )
        if not found:
            request.day = None
            self._ask("date", text, menu)
            return
        self._ask("time", text, menu)

    # --- changes and cancellations -----------------------------------------------------------

    def _advance_change(self, request: Request) -> None:
        if not self.desk.proven:
            self.state.clear()
            self._offer_proof()
            return
        mine = self.desk.upcoming()
        if not mine:
            self.state.clear()
            self._none_upcoming()
            return
        target = next((b for b in mine if b.code == request.code), None)
        if target is None and request.code:
            quoted = request.code
            request.code = None
            self._send(self._say("not_yours", code=quoted))
        if target is None and request.flow == "cancel" and request.date is not None:
            on_day = [b for b in mine if self.desk.local(b.start).date() == request.date]
            target = on_day[0] if len(on_day) == 1 else None
        if target is None and len(mine) == 1:
            target = mine[0]
        if target is None:
            self._ask(
                "pick_reservation",
                self._say("which_booking"),
                menus.bookings(self.desk, self.lang, mine),
            )
            return
        request.code = target.code
        if request.flow == "cancel":
            self._ask(
                "confirm", self._say("confirm_cancel", **self._facts(target)), Menu(self._yes_no())
            )
            return
        self._advance_move(request, target)

    def _advance_move(self, request: Request, target: ReservationView) -> None:
        if request.date is None and request.time is None and request.party_size is None:
            self._ask("changes", self._say("what_to_change"))
            return
        old = self.desk.local(target.start)
        day = request.date or old.date()
        at = request.time or old.time().replace(tzinfo=None)
        party = request.party_size or target.party_size
        start = self.desk.instant(day, at)
        if start == target.start and party == target.party_size:
            self.state.clear()
            self._send(self._say("unchanged", **self._facts(target)))
            return
        if not self.desk.hours(day):
            request.day = None
            self._ask("date", self._say("closed_day", day=r.day(self.lang, day)))
            return
        if not self._allowed(request, start, party, day):
            return
        if start not in self.desk.free_starts(day, party, exclude=target.code):
            self._offer_alternatives(request, start, party, "taken")
            return
        request.day, request.at, request.party_size = day.isoformat(), r.clock(at), party
        self._ask(
            "confirm",
            self._say(
                "confirm_modify",
                code=target.code,
                party=r.party(self.lang, party),
                day=r.day(self.lang, day),
                time=r.clock(at),
            ),
            Menu(self._yes_no()),
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

    # --- answers that need no request ------------------------------------------------------

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

    def _hours(self, day: date | None) -> None:
        self._send(menus.opening_hours(self.desk, self.lang, day))


def _ours(choice_id: str) -> bool:
    return choice_id in {"yes", "no"} or choice_id.startswith(
        ("t:", "r:", "menu:", "rem:", "d:", "h:", "p:", "wl:")
    )


def _hours(exc: errors.DomainError) -> int:
    return max(1, int(exc.data.get("cutoff_minutes", 60)) // 60)
