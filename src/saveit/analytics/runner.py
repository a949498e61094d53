"""The ``analytics`` consumer group in the worker: every event that can change a
figure recomputes the days it touched (:meth:`Analytics.handle`). Like the
waitlist's, it records what it handled in ``processed_events``, so a redelivered
event costs one look-up; and a day is rebuilt whole, so even a second handling
leaves the same counters."""

from __future__ import annotations

import threading

from saveit.analytics.service import SURVEY_EVENTS, Analytics
from saveit.domain import events
from saveit.events.bus import Bus
from saveit.events.consumer import Consumer
from saveit.events.processed import SqlProcessedStore

GROUP = "analytics"


def accepts(event_type: str) -> bool:
    return (
        event_type.startswith("reservation.")
        or event_type.startswith("message.")
        or event_type in SURVEY_EVENTS
        or event_type == events.CONVERSATION_HANDED_OFF
    )


def consumer(bus: Bus, analytics: Analytics) -> Consumer:
    return Consumer(
        bus,
        GROUP,
        analytics.handle,
        processed=SqlProcessedStore(analytics.db.engine),
        accepts=accepts,
    )


def start_analytics(bus: Bus, analytics: Analytics, stop: threading.Event) -> threading.Thread:
    """The consumer as a daemon thread."""
    thread = threading.Thread(
        target=consumer(bus, analytics).run, args=(stop,), name="saveit-analytics", daemon=True
    )
    thread.start()
    return thread
