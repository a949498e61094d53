"""The satisfaction survey: one question after a visit, on the guest's notice
channel, in their language.

The scheduler calls :meth:`Surveys.send_due` on every tick. A visit is over
when its booking is completed, or checked in and past its end. Each such
booking gets exactly one ``guest_surveys`` row, ever (its unique key): ``sent``,
or ``skipped:<why>`` when the rules say no — no guest, the guest opted out, a
survey already went to them within the week, no channel reaches them (on
WhatsApp outside the 24-hour window only an approved template may go out; with
none, WhatsApp is passed over). Cancelled and no-show bookings are never
candidates. A restaurant's switch (``survey_settings``) turns it all off: visits
while it is off are recorded as ``skipped:switched_off``, never asked later.

The answer comes back through the chat (:mod:`saveit.analytics.survey_chat`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from saveit.analytics import survey_texts as texts
from saveit.analytics.daily import service_of
from saveit.analytics.service import SURVEY_ANSWERED, SURVEY_SENT, SURVEY_SKIPPED
from saveit.domain.messages import ListOption, OutboundMessage
from saveit.domain.model import Restaurant
from saveit.domain.schedule import day_of, windows_for
from saveit.messaging.delivery import Delivery
from saveit.notify.notifier import Notifier
from saveit.store.surveys import DueVisit, Survey
from saveit.store.unit_of_work import Database, DatabaseLike, UnitOfWork, database_of

log = logging.getLogger(__name__)
__all__ = ["Survey", "Surveys", "question"]

AUTHOR = "survey"
WEEK = timedelta(days=7)
WINDOW = timedelta(hours=24)
LOOKBACK = timedelta(days=2)  # visits over longer ago than this are not asked about
LOW = 2  # a rating at or below this hands the conversation to staff


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Surveys:
    def __init__(
        self,
        db: Database | DatabaseLike,
        notifier: Notifier | None,
        delivery: Delivery | None,
        *,
        restaurant_of: Callable[[int], Restaurant],
        clock: Callable[[], datetime] = _utc_now,
        default_language: str = "es",
    ) -> None:
        self.db = database_of(db)
        self.notifier = notifier
        self.delivery = delivery
        self.restaurant_of = restaurant_of
        self.clock = clock
        self.default_language = default_language

    # --- sending -------------------------------------------------------------------------

    def send_due(self) -> int:
        """Ask about every visit that just ended; returns how many surveys were sent."""
        now = self.clock()
        with self.db.reading() as r:
            due = r.surveys.due(now, now - LOOKBACK)
        sent = 0
        for visit in due:
            if visit.delay_minutes and visit.end + timedelta(minutes=visit.delay_minutes) > now:
                continue
            try:
                sent += self._send(visit, now)
            except Exception:  # one visit must not stop the others
                log.exception("survey: asking about %s failed", visit.code)
        if sent and self.delivery is not None:
            self.delivery.ready.set()
        return sent

    def _send(self, visit: DueVisit, now: datetime) -> int:
        restaurant = self.restaurant_of(visit.restaurant_id)
        day = day_of(restaurant, visit.start)
        base: dict[str, Any] = {
            "restaurant_id": visit.restaurant_id,
            "reservation_id": visit.reservation_id,
            "guest_id": visit.guest_id,
            "day": day,
            "service": service_of(windows_for(restaurant, day), visit.start),
            "language": texts.lang_of(visit.language),
            "created_at": now,
        }
        reason = self._reason_to_skip(visit, now)
        target = None
        if reason is None:
            target = self._target(visit, now)
            if target is None:
                reason = "no_channel"
        with self.db.unit_of_work() as uow:
            if reason is not None or target is None:
                self._record(uow, base | {"channel": "", "status": f"skipped:{reason}"}, visit)
                return 0
            assert visit.guest_id is not None
            survey_id = self._record(uow, base | {"channel": target[0], "status": "sent"}, visit)
            if survey_id is None:
                return 0  # another scheduler asked first
            identity = target[1] or uow.conversations.resolve(
                restaurant.id, target[0], target[2] or "", name=None, now=now, inbound=False
            )
            conversation, _ = uow.conversations.open_conversation(
                restaurant.id, visit.guest_id, now
            )
            lang = visit.language or conversation.language or self.default_language
            message = question(restaurant.name, lang)
            assert self.delivery is not None
            uow.messages.queue_row(
                self.delivery.outbound_row(
                    restaurant.id, identity, conversation.id, message, AUTHOR, now
                )
            )
            uow.conversations.offer(
                conversation.id, [{"id": c.id, "title": c.title} for c in message.choices]
            )
            uow.surveys.set_conversation(survey_id, conversation.id)
        return 1

    def _record(self, uow: UnitOfWork, values: dict[str, Any], visit: DueVisit) -> int | None:
        survey_id = uow.surveys.record(values)
        if survey_id is not None:
            sent = values["status"] == "sent"
            uow.emit(
                restaurant_id=visit.restaurant_id,
                type_=SURVEY_SENT if sent else SURVEY_SKIPPED,
                payload={
                    "survey": {
                        "reservation": visit.code,
                        "day": values["day"].isoformat(),
                        "channel": values["channel"],
                        "status": values["status"],
                    }
                },
                at=values["created_at"],
            )
        return survey_id

    def _reason_to_skip(self, visit: DueVisit, now: datetime) -> str | None:
        if not visit.enabled:
            return "switched_off"  # recorded, so turning surveys on asks no old visit
        if visit.guest_id is None:
            return "no_guest"
        with self.db.reading() as r:
            if r.surveys.opted_out(visit.restaurant_id, visit.guest_id):
                return "opted_out"
            if r.surveys.asked_since(visit.guest_id, now - WEEK):
                return "weekly_cap"
        return None

    def _target(self, visit: DueVisit, now: datetime) -> tuple[str, Any, str | None] | None:
        """(channel, identity or None, address) of the first notice channel that may
        carry the question now."""
        if self.notifier is None or self.delivery is None or visit.guest_id is None:
            return None
        found = self.notifier.targets_of(visit.restaurant_id, visit.guest_id, visit.source)
        with self.db.reading() as r:
            template = r.surveys.whatsapp_template(visit.restaurant_id)
        for target in found or []:
            if target.channel == "whatsapp" and not template:
                last = target.identity.last_inbound_at if target.identity else None
                if last is None or now - last >= WINDOW:
                    continue  # outside the 24-hour window, and no template to send
            return target.channel, target.identity, target.address
        return None

    # --- answers and opt-outs --------------------------------------------------------------

    def open_for(self, conversation_id: int) -> Survey | None:
        with self.db.reading() as r:
            return r.surveys.latest_of_conversation(conversation_id)

    def answer(self, survey: Survey, rating: int, comment: str | None) -> bool:
        """Store the rating (once) and tell the live feed; True when it was new."""
        now = self.clock()
        with self.db.unit_of_work() as uow:
            if not uow.surveys.answer(survey.id, rating, comment or None, now):
                return False
            self._announce(uow, survey, rating, comment, now)
        return True

    def comment(self, survey: Survey, comment: str) -> bool:
        now = self.clock()
        with self.db.unit_of_work() as uow:
            if not uow.surveys.add_comment(survey.id, comment):
                return False
            self._announce(uow, survey, survey.rating, comment, now)
        return True

    @staticmethod
    def _announce(
        uow: UnitOfWork, survey: Survey, rating: int | None, comment: str | None, now: datetime
    ) -> None:
        uow.emit(
            restaurant_id=survey.restaurant_id,
            type_=SURVEY_ANSWERED,
            payload={
                "survey": {
                    "reservation": survey.reservation_code,
                    "guest_id": survey.guest_id,
                    "day": survey.day.isoformat(),
                    "channel": survey.channel,
                    "rating": rating,
                    "comment": comment or "",
                },
                "conversation_id": survey.conversation_id,
            },
            at=now,
        )

    def opt_out(self, restaurant_id: int, guest_id: int, via: str) -> None:
        with self.db.unit_of_work() as uow:
            uow.surveys.opt_out(restaurant_id, guest_id, via, self.clock())

    # --- staff ---------------------------------------------------------------------------

    def of_guest(self, slug: str, guest_id: int) -> list[Survey]:
        with self.db.reading() as r:
            return r.surveys.of_guest(r.restaurants.id_of(slug), guest_id)

    def of_reservation(self, code: str) -> Survey | None:
        with self.db.reading() as r:
            return r.surveys.of_reservation(code)

    def settings(self, slug: str) -> tuple[bool, int]:
        with self.db.reading() as r:
            return r.surveys.settings(r.restaurants.id_of(slug))

    def set_settings(self, slug: str, enabled: bool, delay_minutes: int) -> None:
        with self.db.unit_of_work() as uow:
            rid = uow.restaurants.id_of(slug)
            uow.surveys.set_settings(rid, enabled, delay_minutes, self.clock())


def question(restaurant: str, language: str | None) -> OutboundMessage:
    """The one question, its five ratings as a list (WhatsApp allows three buttons;
    channels without lists show numbered lines, and "4" picks the fourth)."""
    return OutboundMessage(
        text=texts.say("question", language, restaurant=restaurant),
        options=tuple(
            ListOption(f"survey:{n}", label)
            for n, label in enumerate(texts.labels(language), start=1)
        ),
        options_label="Valorar" if texts.lang_of(language) == "es" else "Rate",
    )
