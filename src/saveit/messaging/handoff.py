"""The bot's replies, from the turn that wrote them to this process's delivery.

A turn inserts its replies already leased to its own process (no ``NOTIFY``:
nobody else is to claim them) and hands them over here with the identity and
language it has just read, so the delivery loop sends them next without the
queue's round trips: no claim, no read-back. Per turn of ``bench/bot.py`` that
took PostgreSQL from 70 statements to 58 and from 11.7 commits to 9.6.

Nothing is lost to a crash: a reply a dead process held stays leased in the
table until the lease lapses, and is then claimed and sent once, like any
queued message. A process that stops in order gives its lease back
(:meth:`Handoff.release`), so a deploy does not hold replies for a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from saveit.store import conversations as convs
from saveit.store import messages as store
from saveit.store.unit_of_work import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Handed:
    """A reply leased at its insert, with what its send needs from the turn."""

    message: store.StoredMessage
    identity: convs.Identity
    language: str | None
    at: float  # time.monotonic() when handed


class Handoff:
    def __init__(self, db: Database, lease: timedelta, ready: threading.Event) -> None:
        self.db = db
        self.lease = lease
        self.ready = ready  # the delivery loop's wake-up
        self._handed: list[Handed] = []
        self._lock = threading.Lock()

    def hand(
        self,
        messages: Sequence[store.StoredMessage],
        identity: convs.Identity,
        language: str | None,
    ) -> None:
        """Committed replies queued leased to this process: sent next, here."""
        at = time.monotonic()
        with self._lock:
            self._handed.extend(Handed(m, identity, language, at) for m in messages)
        self.ready.set()

    def take(self) -> list[Handed]:
        """What was handed over, oldest first. A reply held so long that its lease
        may be about to lapse is left to whoever claims it then (sent once either way)."""
        handed = self._drain()
        fresh_for = self.lease.total_seconds() / 2
        now = time.monotonic()
        kept = [h for h in handed if now - h.at < fresh_for]
        if len(kept) < len(handed):
            log.warning("channels: %d handed replies left to their lease", len(handed) - len(kept))
        return kept

    def release(self) -> None:
        """On the way out: what was handed over and not sent goes back to the queue
        now, for the next worker, rather than when its lease lapses."""
        if not (handed := self._drain()):
            return
        try:
            with self.db.unit_of_work() as uow:
                uow.messages.release([h.message.id for h in handed])
        except Exception:  # the lease lapses instead
            log.exception("channels: releasing %d handed replies failed", len(handed))

    def _drain(self) -> list[Handed]:
        with self._lock:
            handed, self._handed = self._handed, []
        return handed
