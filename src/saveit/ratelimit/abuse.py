"""What one anonymous client may make a restaurant do.

The request limits in :mod:`saveit.ratelimit.limiter` bound how often a client
may *ask*; these bound what asking may *cost* the restaurant:

* ``create_ip`` — public reservation creates per client IP
  (``SAVEIT_RATELIMIT_CREATE_IP_PER_HOUR``). The per-guest limit is keyed by a
  phone or email the client chooses, so alone it stops nobody who invents guests;
* ``unverified`` — public creates per restaurant, from every IP together
  (``SAVEIT_RATELIMIT_UNVERIFIED_PER_RESTAURANT_PER_HOUR``), so that many
  addresses cannot fill a service either;
* one-time codes (a chat linking a phone or email, a booking held for
  verification) per target contact, per client IP and per restaurant and day
  (``SAVEIT_CODES_*``): every code is an SMS or an email the restaurant pays for
  and its recipient did not ask for;
* web chat sessions started per client IP (``SAVEIT_WEBCHAT_SESSIONS_PER_IP_PER_HOUR``)
  and sockets held open per client IP (``SAVEIT_WEBCHAT_CONNECTIONS_PER_IP``,
  counted in each process: a socket lives in one).

Counted like every other limit: in Redis when there is one, else (and while
Redis is away) in process memory; off with ``SAVEIT_RATELIMIT_ENABLED=false``.
"""

from __future__ import annotations

import hashlib
import threading

from saveit.config import Settings
from saveit.ratelimit.gcra import Rule
from saveit.ratelimit.limiter import RateLimited, RateLimiter

HOUR_S = 3600.0
DAY_S = 86400.0


def _key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class CodesCapped(RateLimited):
    """No more one-time codes for now; ``limit`` names which cap was reached."""


class AbuseLimits:
    def __init__(
        self,
        limiter: RateLimiter,
        *,
        create_ip: Rule,
        unverified: Rule,
        code_contact: Rule,
        code_ip: Rule,
        code_day: Rule,
        chat_sessions: Rule,
        chat_connections_per_ip: int,
    ) -> None:
        self.limiter = limiter
        self.create_ip = create_ip
        self.unverified = unverified
        self.code_contact = code_contact
        self.code_ip = code_ip
        self.code_day = code_day
        self.chat_sessions = chat_sessions
        self.chat_connections_per_ip = chat_connections_per_ip
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, limiter: RateLimiter) -> AbuseLimits:
        return cls(
            limiter,
            create_ip=Rule("create-ip", settings.ratelimit_create_ip_per_hour, HOUR_S),
            unverified=Rule(
                "unverified", settings.ratelimit_unverified_per_restaurant_per_hour, HOUR_S
            ),
            code_contact=Rule("code-contact", settings.codes_per_contact_per_hour, HOUR_S),
            code_ip=Rule("code-ip", settings.codes_per_ip_per_hour, HOUR_S),
            code_day=Rule("code-day", settings.codes_per_restaurant_per_day, DAY_S),
            chat_sessions=Rule("chat-session", settings.webchat_sessions_per_ip_per_hour, HOUR_S),
            chat_connections_per_ip=settings.webchat_connections_per_ip,
        )

    @property
    def enabled(self) -> bool:
        return self.limiter.enabled

    def check_public_create(self, client_ip: str | None, restaurant_id: int) -> None:
        """Raise :class:`RateLimited` when this IP, or the public as a whole, booked
        this restaurant too often."""
        if client_ip:
            decision = self.limiter.hit(self.create_ip, _key(client_ip))
            if not decision.allowed:
                raise RateLimited(
                    "Too many reservations from this address; try again later",
                    retry_after=int(decision.retry_after_header),
                )
        decision = self.limiter.hit(self.unverified, str(restaurant_id))
        if not decision.allowed:
            raise RateLimited(
                "This restaurant takes no more online bookings for now; please call it",
                retry_after=int(decision.retry_after_header),
            )

    def check_code(self, *, restaurant_id: int, contact: str, client_ip: str | None) -> None:
        """Count one code to ``contact`` (an E.164 phone or a normalised email);
        raise :class:`CodesCapped` when a cap is reached (then nothing is sent)."""
        checks = [(self.code_contact, f"{restaurant_id}:{_key(contact)}", "contact")]
        if client_ip:
            checks.append((self.code_ip, _key(client_ip), "ip"))
        checks.append((self.code_day, str(restaurant_id), "restaurant"))
        for rule, identity, which in checks:
            decision = self.limiter.hit(rule, identity)
            if not decision.allowed:
                raise CodesCapped(
                    "Too many verification codes; try again later",
                    retry_after=int(decision.retry_after_header),
                    limit=which,
                )

    # --- web chat ---------------------------------------------------------------------

    def allow_chat_session(self, client_ip: str | None) -> bool:
        """Whether this IP may start one more web chat session now."""
        if not client_ip:
            return True
        return self.limiter.hit(self.chat_sessions, _key(client_ip)).allowed

    def open_chat(self, client_ip: str | None) -> bool:
        """Count one open socket of this IP; False (and nothing counted) over the cap.
        Every True must be matched by one :meth:`close_chat`."""
        if not client_ip or not self.enabled:
            return True
        with self._lock:
            held = self._open.get(client_ip, 0)
            if held >= self.chat_connections_per_ip:
                return False
            self._open[client_ip] = held + 1
        return True

    def close_chat(self, client_ip: str | None) -> None:
        if not client_ip or not self.enabled:
            return
        with self._lock:
            held = self._open.get(client_ip, 0) - 1
            if held > 0:
                self._open[client_ip] = held
            else:
                self._open.pop(client_ip, None)
