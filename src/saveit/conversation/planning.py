"""Moving a request forward: ask for what is missing, check, then propose.

:meth:`Planner._advance` asks for the first thing still missing, one question
at a time (day, party, time, name; for a change, which booking and what to
change), checks the engine's rules and free tables before proposing anything,
and asks for a yes before it books, moves or cancels. A day or time the parser
could not settle is asked first, its readings as buttons. A refused time gets
the nearest alternatives, and a full one the waitlist. What the bot checks here
is courtesy: the engine re-validates every write.
"""

from __future__ import annotations

from datetime import date, datetime

from saveit.conversation import menus, waitlist_chat
from saveit.conversation.day_parts import in_part
from saveit.conversation.guest_bookings import GuestBookings
from saveit.conversation.menus import Menu
from saveit.conversation.nlu import Parse
from saveit.conversation.state import Request
from saveit.domain import errors
from saveit.domain import wording as w
from saveit.domain.messages import Button
from saveit.domain.views import ReservationView


class Planner(GuestBookings):
    def _greet(self, restaurant: str) -> None:
        if self.state.request is not None:
            self._advance()  # a hello mid-flow: repeat the pending question
            return
        self._send(self._say("welcome", restaurant=restaurant), buttons=self._menu())

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
                Button(f"d:{d.isoformat()}", w.short_day(self.lang, d)) for d in (said, numbered)
            )
            text = self._say(
                "which_day",
                date=w.day(self.lang, numbered),
                weekday=w.weekday_name(self.lang, said.weekday()),
            )
            self._ask("date", text, Menu(buttons))
            return
        if not doubt.times:
            self._advance()
            return
        request.at = None
        buttons = tuple(Button(f"h:{w.clock(t)}", w.clock(t)) for t in doubt.times)
        if doubt.kind == "two_services":
            am, pm = doubt.times[0], doubt.times[-1]
            text = self._say("which_service", am=w.clock(am), pm=w.clock(pm))
        else:
            text = self._say("which_time", time=w.clock(doubt.times[0]))
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
            self._say("ask_time", day=w.day(self.lang, day)),
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
            self._ask("date", self._say("closed_day", day=w.day(self.lang, day)))
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
                party=w.party(self.lang, request.party_size),
                day=w.day(self.lang, day),
                time=w.clock(request.time),
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
                    self._say("outside_hours", time=w.clock(self.desk.local(start))),
                    menus.times(self.desk, self.lang, starts, day),
                )
            else:
                self._ask("date", self._say("day_full", day=w.day(self.lang, day), party=party))
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
                self._say("ask_time", day=w.day(self.lang, day)),
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
            time=w.clock(local),
            day=w.day(self.lang, local.date()),
            party=w.party(self.lang, party),
        )
        text = (
            lead
            if found
            else f"{lead}\n{self._say('no_alternatives', party=w.party(self.lang, party))}"
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
            self._ask("date", self._say("closed_day", day=w.day(self.lang, day)))
            return
        if not self._allowed(request, start, party, day):
            return
        if start not in self.desk.free_starts(day, party, exclude=target.code):
            self._offer_alternatives(request, start, party, "taken")
            return
        request.day, request.at, request.party_size = day.isoformat(), w.clock(at), party
        self._ask(
            "confirm",
            self._say(
                "confirm_modify",
                code=target.code,
                party=w.party(self.lang, party),
                day=w.day(self.lang, day),
                time=w.clock(at),
            ),
            Menu(self._yes_no()),
        )
