"""The waitlist in the chat: "¿te aviso si se libera algo?", and the offer's answers.

The dialogue adds a *notify me* choice wherever it says a time is full
(:func:`with_join`) and hands every ``wl:`` choice here (:func:`answer`):

* ``wl:j:<start>|<party>|<area>`` joins the day's list (window: the
  restaurant's default either side of the start);
* ``wl:ok:<hold>`` / ``wl:no:<hold>`` accept or decline an offer (the
  notifier's buttons; typed "1"/"2" on SMS and email);
* ``wl:x:<entry>`` leaves the list.

Only the guest's own entries are touched: an offer or entry of another guest
is answered as gone.

This is the dialogue's part of the waitlist, so it lives with the dialogue and
uses the waitlist service below it; the waitlist package knows nothing of chats.
"""

from __future__ import annotations

from datetime import datetime

from saveit.conversation import menus
from saveit.conversation import replies as r
from saveit.conversation.desk import Desk
from saveit.conversation.menus import Menu
from saveit.domain import errors
from saveit.domain import wording as w
from saveit.domain.commands import GuestDetails
from saveit.domain.messages import Button, ListOption, OutboundMessage
from saveit.domain.model import Status
from saveit.store.waitlist import EntryView
from saveit.waitlist.service import JoinRequest

PREFIX = "wl:"

_PHRASES: dict[str, dict[str, str]] = {
    "ask": {
        "es": "¿Te aviso si se libera algo a esa hora?",
        "en": "Shall I let you know if something frees up around then?",
    },
    "btn_join": {"es": "🔔 Avísame", "en": "🔔 Notify me"},
    "btn_leave": {"es": "Salir de la lista", "en": "Leave the list"},
    "joined": {
        "es": "🔔 Apuntado. Si se libera una mesa para {party} el {day} entre las {lo} y "
        "las {hi}, te la guardo y te aviso por aquí.",
        "en": "🔔 Done. If a table for {party} frees up on {day} between {lo} and {hi}, "
        "I will hold it for you and tell you here.",
    },
    "declined": {
        "es": "Entendido, se la ofrecemos a otra persona. ¡Gracias por avisar!",
        "en": "Got it, we will offer it to someone else. Thanks for letting us know!",
    },
    "gone": {
        "es": "Lo siento, esa oferta ya no está disponible.",
        "en": "Sorry, that offer is no longer available.",
    },
    "left": {
        "es": "Te he quitado de la lista de espera.",
        "en": "You are off the waitlist.",
    },
    "your_entries": {"es": "En lista de espera:", "en": "On the waitlist:"},
}


def _say(lang: str, key: str, **values: object) -> str:
    phrase = _PHRASES[key]
    return phrase.get(lang, phrase["es"]).format(**values)


def with_join(
    desk: Desk, lang: str, text: str, menu: Menu, start: datetime, party: int, area: str | None
) -> tuple[str, Menu]:
    """The question and menu of a full time, with a *notify me* choice added."""
    if getattr(desk, "waitlist", None) is None:
        return text, menu
    choice_id = f"{PREFIX}j:{start.isoformat()}|{party}|{area or ''}"
    title = _say(lang, "btn_join")
    text = f"{text}\n{_say(lang, 'ask')}"
    if menu.options:  # a WhatsApp list holds ten rows: the choice replaces the tenth
        options = (*menu.options[: menus.MAX_ROWS - 1], ListOption(choice_id, title))
        return text, Menu(options=options, label=menu.label)
    if len(menu.buttons) < 3:
        return text, Menu(buttons=(*menu.buttons, Button(choice_id, title)))
    options = (*(ListOption(b.id, b.title) for b in menu.buttons), ListOption(choice_id, title))
    return text, Menu(options=options, label=r.say(lang, "see_times"))


def answer(desk: Desk, lang: str, picked: str) -> list[OutboundMessage]:
    waitlist = getattr(desk, "waitlist", None)
    if waitlist is None:
        return [OutboundMessage(text=_say(lang, "gone"))]
    action, _, arg = picked[len(PREFIX) :].partition(":")
    try:
        if action == "j":
            return [_join(desk, lang, arg)]
        if action in {"ok", "no"}:
            entry = waitlist.by_hold(arg)
            if entry.guest_id != desk.guest_id:
                raise errors.OfferGone("not this guest's offer")
            if action == "no":
                waitlist.decline(entry.code, desk.actor)
                return [OutboundMessage(text=_say(lang, "declined"))]
            booked = waitlist.accept(entry.code, desk.actor)
            if booked.status is Status.PENDING:  # the restaurant approves this guest
                return [
                    OutboundMessage(
                        text=r.say(lang, "booked_pending", **menus.facts(desk, lang, booked))
                    )
                ]
            text = r.say(lang, "booked", **menus.facts(desk, lang, booked))
            caption = w.say(lang, "qr_caption", code=booked.code)
            return [desk.with_qr(OutboundMessage(text=text), booked, caption)]
        if action == "x":
            entry = waitlist.get(arg)
            if entry.guest_id != desk.guest_id:
                raise errors.OfferGone("not this guest's entry")
            waitlist.leave(entry.code, desk.actor)
            return [OutboundMessage(text=_say(lang, "left"))]
    except (errors.OfferGone, errors.NotFound, errors.InvalidTransition, errors.Conflict):
        pass
    return [OutboundMessage(text=_say(lang, "gone"))]


def _join(desk: Desk, lang: str, arg: str) -> OutboundMessage:
    waitlist = desk.waitlist
    assert waitlist is not None
    at, party, area = [*arg.split("|"), "", ""][:3]
    entry = waitlist.join(
        JoinRequest(
            restaurant=desk.slug,
            start=datetime.fromisoformat(at),
            party_size=int(party),
            area=area or None,
            guest_id=desk.guest_id,
            guest=GuestDetails(name=desk.guest_name()),
        ),
        desk.actor,
        desk.actor.channel,
    )
    return OutboundMessage(
        text=_joined_text(desk, lang, entry),
        buttons=(Button(f"{PREFIX}x:{entry.code}", _say(lang, "btn_leave")),),
    )


def _joined_text(desk: Desk, lang: str, entry: EntryView) -> str:
    return _say(
        lang,
        "joined",
        party=w.party(lang, entry.party_size),
        day=w.day(lang, entry.day),
        lo=w.clock(desk.local(entry.earliest)),
        hi=w.clock(desk.local(entry.latest)),
    )


def entries_message(desk: Desk, lang: str) -> OutboundMessage | None:
    """The guest's open entries, for "my reservations", each with a button to leave
    it (up to three); None when there are none."""
    waitlist = getattr(desk, "waitlist", None)
    if waitlist is None:
        return None
    mine = waitlist.of_guest(desk.slug, desk.guest_id)
    if not mine:
        return None
    lines = [_say(lang, "your_entries")]
    for entry in mine:
        lo, hi = desk.local(entry.earliest), desk.local(entry.latest)
        lines.append(
            f"• {w.day(lang, entry.day)}, {w.clock(lo)}–{w.clock(hi)}, "
            f"{w.party(lang, entry.party_size)}"
        )
    buttons = tuple(
        Button(f"{PREFIX}x:{e.code}", f"✖ {w.short_day(lang, e.day)}") for e in mine[:3]
    )
    return OutboundMessage(text="\n".join(lines), buttons=buttons)
