"""Telling guests about their bookings on every channel they allow.

The notifier is a consumer of the event bus (group ``notifier``): a booking
created, confirmed, changed, cancelled or marked no-show becomes one message
per allowed channel, and the scheduler (:mod:`saveit.notify.scheduler`) asks it
for reminders. It never sends by itself: it queues each message in
``channel_messages`` together with its sent-record, in one transaction, and the
channel workers deliver it with their retries and the 24-hour window rules
(WhatsApp outside the window goes out as the restaurant's approved template).
So a notice is queued exactly once per ``(reservation, kind, channel)`` however
often the event arrives; after a crash the queued row is still there to send.

Which channels: the guest's own choice when they made one
(``guests.notify_channels``), otherwise the channel the booking came from plus
email when we know the address; a booking with only a phone number (taken on
the phone, or from the web form) gets SMS. A channel the restaurant has no
account for is skipped, and so are Instagram and web chat unless the guest has
written to us there (there is no address to reach them at otherwise).

When the guest made the change in a chat, the bot has already answered in that
chat, with the QR (:mod:`saveit.notify.qr`): the notifier adds nothing there,
so the guest never reads the same news twice in one chat.

Who can be told is worked out first, from the event's snapshot of the booking
(guest and source), the guest's choice, contacts and identities (one indexed
read) and the channels the restaurant has accounts on (remembered per process
for a couple of seconds, :class:`~saveit.store.channel_accounts.AccountDirectory`:
an account added or removed applies to notices within that time). A booking
that reaches nobody (a restaurant without channel accounts, a guest who never
wrote in the web chat) costs that one read, shared by a batch of events
(:meth:`Notifier.prepare`): the booking is not read back and no write
transaction is opened. Otherwise the booking is read back, a notice it
has outgrown since is dropped (cancelled since, changed again since), and the
write transaction claims the sent-records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from saveit.booking.service import BookingService
from saveit.channels.email import ics
from saveit.domain import errors, events
from saveit.domain.messages import CHANNELS, Attachment, Button, OutboundMessage
from saveit.domain.model import Restaurant, Status
from saveit.domain.views import ReservationView
from saveit.messaging.delivery import Delivery
from saveit.notify import texts
from saveit.notify.notices import NOTIFIED, Notice, notice_for
from saveit.notify.qr import QrCodes
from saveit.store import conversations as convs
from saveit.store import restaurants as restaurant_store
from saveit.store.channel_accounts import AccountDirectory
from saveit.store.notifications import Reach
from saveit.store.unit_of_work import Database, DatabaseLike, UnitOfWork, database_of

AUTHOR = "notifier"
_WAITING = frozenset({Status.PENDING, Status.CONFIRMED})
HOLD_ACTOR = "system:verification"  # the actor that confirms or expires a held booking
_QR_KINDS = frozenset({"confirmation", "modification", "reminder"})
_CONTACT_CHANNELS = frozenset({"email", "sms", "whatsapp"})


@dataclass(frozen=True, slots=True)
class _Target:
    """A channel to tell the guest on: through their identity there, or at an
    address (whose identity is resolved, maybe made, in the write transaction)."""

    channel: str
    identity: convs.Identity | None
    address: str | None = None


class _Unread:
    """A guest's reach not read for this event's batch: read it when needed."""


_UNREAD = _Unread()


class Notifier:
    def __init__(
        self,
        booking: BookingService,
        delivery: Delivery,
        *,
        qr: QrCodes | None = None,
        clock: Callable[[], datetime],
        default_language: str = "es",
        directory: AccountDirectory | None = None,
        database: Database | DatabaseLike | None = None,
    ) -> None:
        self.booking = booking
        self.db = database_of(database if database is not None else booking.engine)
        self.delivery = delivery
        self.qr = qr
        self.clock = clock
        self.default_language = default_language
        self.directory = directory or AccountDirectory(self.db)
        # event id -> its guest's reach, read for its batch (None: no such guest)
        self._prepared: dict[str, Reach | None] = {}

    # --- entry points ---------------------------------------------------------------------

    def _about_a_hold(self, event: events.Event, notice: Notice) -> bool:
        """A public booking held for verification (``saveit.messaging.verification``)
        hears from us only through its code, and a hold that expired unverified is no
        news to a number that never answered: neither may become a way to make the
        restaurant text strangers."""
        actor = str(event.payload.get("actor", ""))
        if notice.text_key == "cancellation_by_restaurant":
            return actor == HOLD_ACTOR
        if notice.text_key != "pending" or not actor.startswith("guest:"):
            return False
        if event.payload.get("channel") != "web":
            return False
        slug = str(event.payload["reservation"].get("restaurant", ""))
        try:
            return self.booking.restaurant(slug).rules.verify_public_bookings
        except errors.NotFound:
            return False

    @staticmethod
    def accepts(event_type: str) -> bool:
        """The event types :meth:`handle` turns into notices (the consumer skips the rest)."""
        return event_type in NOTIFIED

    def prepare(self, batch: Sequence[events.Event]) -> None:
        """Read the reach of a batch's guests in one statement, for :meth:`handle`.

        Per event this was a read of its own: a fifth of the worker's interpreter
        time under a booking burst (``bench/booking.py``, py-spy). A guest's choice
        changed between this read and their event's turn in the batch
        (milliseconds) applies from their next notice, as it would have for a
        read made just before the change.
        """
        guests: dict[str, int] = {}
        restaurants: set[int] = set()
        for event in batch:
            shown = event.payload.get("reservation")
            if notice_for(event) is None or not isinstance(shown, dict):
                continue
            if shown.get("guest_id") is not None and "source" in shown:
                guests[event.event_id] = int(shown["guest_id"])
                restaurants.add(event.restaurant_id)
        if len(self._prepared) > 10_000:  # prepared but never handled (a crash)
            self._prepared.clear()
        if not guests:
            return
        channels = {"webchat"}.union(*(self.directory.channels(r) for r in restaurants))
        with self.db.reading() as r:
            found = r.notifications.reach_many(set(guests.values()), channels)
        self._prepared.update({eid: found.get(guest) for eid, guest in guests.items()})

    def handle(self, event: events.Event) -> None:
        """The bus consumer's handler: a reservation event becomes its notice."""
        prepared = self._prepared.pop(event.event_id, _UNREAD)
        notice = notice_for(event)
        if notice is None or self._about_a_hold(event, notice):
            return
        shown: dict[str, Any] = dict(event.payload["reservation"])
        targets = self._reachable(event.restaurant_id, shown, prepared)
        if targets == []:
            return  # nobody to tell: the booking need not be read back
        try:
            view = self.booking.get(str(shown["code"]))
        except errors.NotFound:
            return
        if notice.text_key in {"confirmation", "pending", "modification"}:
            if view.status not in _WAITING:
                return  # cancelled (or seated) since: that later event speaks for itself
            if notice.text_key == "modification" and (
                shown["start"] != view.start.isoformat() or shown["party_size"] != view.party_size
            ):
                return  # changed again since: the later change's notice tells the news
        if view.guest is None:
            return
        if targets is None or view.guest.id != shown.get("guest_id"):
            targets = self._targets(view.restaurant_id, view.guest.id, view.source)
        self._queue(view, notice, targets or [])

    def remind(self, view: ReservationView, offset_minutes: int) -> int:
        """Queue the reminder ``offset_minutes`` before ``view``'s current start.

        The start is part of the kind, so a moved booking gets reminders for its
        new time, and one reminder per offset per start goes out, ever."""
        start_minute = int(view.start.timestamp() // 60)
        return self.notify(view, Notice(f"reminder:{offset_minutes}:{start_minute}", "reminder"))

    def notify(self, view: ReservationView, notice: Notice) -> int:
        """Queue ``notice`` on each allowed channel not notified yet; returns how many."""
        if view.guest is None:
            return 0
        targets = self._targets(view.restaurant_id, view.guest.id, view.source)
        return self._queue(view, notice, targets or [])

    def _queue(self, view: ReservationView, notice: Notice, targets: list[_Target]) -> int:
        """Claim each target's sent-record and queue its message, in one transaction."""
        guest = view.guest
        if guest is None or not targets:
            return 0  # nobody to tell on any channel the restaurant has
        now = self.clock()
        restaurant = self.booking.restaurant(view.restaurant)
        queued = 0
        with self.db.unit_of_work() as uow:
            reached = [self._identity(uow, restaurant, target, now) for target in targets]
            profile = uow.restaurants.profile(restaurant.slug)
            conversation, _ = uow.conversations.open_conversation(restaurant.id, guest.id, now)
            lang = guest.language or conversation.language or self.default_language
            facts = texts.Facts(
                restaurant=restaurant.name,
                code=view.code,
                start=view.start.astimezone(restaurant.tz),
                party_size=view.party_size,
                reason=notice.reason,
            )
            for identity in reached:
                record = uow.notifications.claim(
                    restaurant_id=restaurant.id,
                    reservation_id=view.id,
                    kind=notice.kind,
                    channel=identity.channel,
                    now=now,
                )
                if record is None:
                    continue  # sent before: a redelivered event, a second scheduler
                message = self._message(notice, identity.channel, view, facts, lang, profile)
                if message is None:
                    continue
                sent = uow.messages.enqueue(
                    restaurant_id=restaurant.id,
                    channel=identity.channel,
                    address=identity.external_id,
                    identity_id=identity.id,
                    conversation_id=conversation.id,
                    message=message,
                    author=AUTHOR,
                    now=now,
                )
                uow.notifications.attach(record, sent.id)
                if message.choices:
                    uow.conversations.offer(
                        conversation.id,
                        [{"id": c.id, "title": c.title} for c in message.choices],
                    )
                queued += 1
        if queued:
            self.delivery.ready.set()
        return queued

    # --- who hears it ------------------------------------------------------------------------

    def _reachable(
        self, restaurant_id: int, shown: dict[str, Any], prepared: Reach | _Unread | None
    ) -> list[_Target] | None:
        """Who the event's snapshot says can be told; None when it cannot say (no
        guest or source in it, or its guest merged into another since): the
        booking read back decides."""
        if "guest_id" not in shown or "source" not in shown:
            return None
        if shown["guest_id"] is None:
            return []  # a booking made without a guest never gets one
        guest_id, source = int(shown["guest_id"]), str(shown["source"])
        return self._targets(restaurant_id, guest_id, source, prepared)

    def targets_of(self, restaurant_id: int, guest_id: int, source: str) -> list[_Target] | None:
        """Where notices to the guest go, in order (the survey asks on the first)."""
        return self._targets(restaurant_id, guest_id, source)

    def _targets(
        self,
        restaurant_id: int,
        guest_id: int,
        source: str,
        prepared: Reach | _Unread | None = _UNREAD,
    ) -> list[_Target] | None:
        """The guest's chosen channels, or by default the booking's channel (when it
        is one) plus email when known, or SMS for a phone alone; each only when the
        restaurant has an account there (the web chat needs none), through the
        guest's latest identity on it or else their address. None: no such guest.
        ``prepared``: the reach read for the event's batch (on a superset of the
        restaurant's channels: only usable ones are taken below)."""
        usable = self.directory.channels(restaurant_id) | {"webchat"}
        if isinstance(prepared, _Unread):
            with self.db.reading() as r:
                reach = r.notifications.reach(guest_id, usable)
        else:
            reach = prepared
        if reach is None:
            return None
        chosen = reach.chosen
        if chosen is None:
            chosen = [source] if source in CHANNELS else []
            if reach.email:
                chosen.append("email")
            if not chosen and reach.phone:
                chosen.append("sms")
        found: list[_Target] = []
        for channel in dict.fromkeys(chosen):
            if channel not in usable:
                continue
            mine = [i for i in reach.identities if i.channel == channel]
            if mine:
                found.append(_Target(channel, convs.latest(mine)))
                continue
            address = _address(channel, reach.email, reach.phone)
            if address is not None:
                found.append(_Target(channel, None, address))
        return found

    @staticmethod
    def _identity(
        uow: UnitOfWork, restaurant: Restaurant, target: _Target, now: datetime
    ) -> convs.Identity:
        if target.identity is not None:
            return target.identity
        assert target.address is not None
        return uow.conversations.resolve(
            restaurant.id, target.channel, target.address, name=None, now=now, inbound=False
        )

    # --- what they read ------------------------------------------------------------------------

    def _message(
        self,
        notice: Notice,
        channel: str,
        view: ReservationView,
        facts: texts.Facts,
        lang: str,
        profile: restaurant_store.Profile,
    ) -> OutboundMessage | None:
        if notice.origin == channel:
            return None  # the bot answered in this chat, QR included
        qr = self.qr if notice.text_key in _QR_KINDS else None
        buttons: tuple[Button, ...] = ()
        if notice.text_key == "reminder":
            buttons = (
                Button(f"rem:ok:{view.code}", texts.button("coming", lang)),
                Button(f"rem:change:{view.code}", texts.button("change", lang)),
                Button(f"rem:cancel:{view.code}", texts.button("cancel", lang)),
            )
        elif notice.text_key == "waitlist_offer":  # a seat held for a waitlist guest
            buttons = (
                Button(f"wl:ok:{view.code}", texts.button("take", lang)),
                Button(f"wl:no:{view.code}", texts.button("pass", lang)),
            )
        if channel == "sms":
            message = OutboundMessage(text=texts.sms(notice.text_key, facts, lang), buttons=buttons)
        else:
            message = OutboundMessage(
                text=texts.chat(notice.text_key, facts, lang),
                buttons=buttons,
                attachments=self._calendar(notice, channel, view, facts, lang, profile),
                subject=texts.subject(notice.text_key, facts, lang),
            )
        if qr is not None:
            message = qr.attach(message, channel, view, texts.qr_caption(facts, lang))
        return message

    @staticmethod
    def _calendar(
        notice: Notice,
        channel: str,
        view: ReservationView,
        facts: texts.Facts,
        lang: str,
        profile: restaurant_store.Profile,
    ) -> tuple[Attachment, ...]:
        """An ``.ics`` on email: added with the confirmation, moved with a change,
        removed with a cancellation (same UID, higher SEQUENCE)."""
        if channel != "email" or notice.text_key in {
            "reminder",
            "no_show",
            "pending",
            "waitlist_offer",
        }:
            return ()
        cancelled = notice.text_key.startswith("cancellation")
        title, details = texts.calendar(facts, lang)
        data = ics.reservation_event(
            uid=f"{view.code}@{profile.slug}.saveit",
            start=view.start,
            end=view.end,
            summary=title,
            location=profile.address or profile.name,
            description=details,
            organizer_email=profile.email,
            sequence=view.version,
            cancelled=cancelled,
        )
        method = "CANCEL" if cancelled else "REQUEST"
        return (
            Attachment(
                filename="reserva.ics" if lang == "es" else "booking.ics",
                content_type=f"text/calendar; method={method}",
                data=data,
            ),
        )


def _address(channel: str, email: str | None, phone: str | None) -> str | None:
    if channel not in _CONTACT_CHANNELS:
        return None
    return email if channel == "email" else phone
