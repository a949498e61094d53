"""The rate limits SaveIt applies, and where they are counted.

Three rules (limits in :class:`~saveit.config.Settings`):

* ``ip`` — every API request per client IP (``SAVEIT_RATELIMIT_IP_PER_MINUTE``);
* ``token`` — every request carrying a bearer token, per token
  (``SAVEIT_RATELIMIT_TOKEN_PER_MINUTE``; keyed by a hash, never the token);
* ``guest`` — reservation creates per guest identity, each of phone and email
  (``SAVEIT_RATELIMIT_GUEST_PER_HOUR``), so one person cannot hold a whole
  evening by rotating IPs.

Counted in Redis when there is one (one budget across all API processes),
else, and whenever Redis is away, in process memory.
"""

from __future__ import annotations

import hashlib
import logging
import re

from saveit.config import Settings
from saveit.domain.errors import DomainError
from saveit.ratelimit.gcra import Decision, MemoryGcra, RedisGcra, Rule
from saveit.resilience.redis_gate import RedisGate, RedisUnavailable

log = logging.getLogger(__name__)

_NOT_DIGITS = re.compile(r"\D")


class RateLimited(DomainError):
    """Too many requests; ``retry_after`` (seconds) becomes the ``Retry-After`` header."""

    code = "RATE_LIMITED"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(
        self,
        *,
        ip: Rule,
        token: Rule,
        guest: Rule,
        gate: RedisGate | None = None,
        prefix: str = "saveit",
        enabled: bool = True,
    ) -> None:
        self.ip = ip
        self.token = token
        self.guest = guest
        self.enabled = enabled
        self.shared = RedisGcra(gate, prefix) if gate is not None else None
        self.local = MemoryGcra()
        self.fallbacks = 0

    @classmethod
    def from_settings(cls, settings: Settings, gate: RedisGate | None) -> RateLimiter:
        return cls(
            ip=Rule("ip", settings.ratelimit_ip_per_minute, 60.0),
            token=Rule("token", settings.ratelimit_token_per_minute, 60.0),
            guest=Rule("guest", settings.ratelimit_guest_per_hour, 3600.0),
            gate=gate,
            prefix=settings.redis_prefix,
            enabled=settings.ratelimit_enabled,
        )

    def hit(self, rule: Rule, identity: str) -> Decision:
        if not self.enabled:
            return Decision(True)
        if self.shared is not None:
            try:
                return self.shared.hit(rule, identity)
            except RedisUnavailable:
                self.fallbacks += 1
        return self.local.hit(rule, identity)

    def check_request(self, client_ip: str | None, bearer: str | None) -> Decision:
        """Per IP, then per token; the first refusal wins."""
        if client_ip:
            decision = self.hit(self.ip, client_ip)
            if not decision.allowed:
                return decision
        if bearer:
            return self.hit(self.token, _digest(bearer))
        return Decision(True)

    def check_guest(self, phone: str | None, email: str | None) -> None:
        """Raise :class:`RateLimited` when this phone or email booked too often."""
        identities = []
        if phone and (digits := _NOT_DIGITS.sub("", phone)):
            identities.append("p:" + _digest(digits[-9:]))  # national number, with or without +34
        if email:
            identities.append("e:" + _digest(email.strip().lower()))
        for identity in identities:
            decision = self.hit(self.guest, identity)
            if not decision.allowed:
                raise RateLimited(
                    "Too many reservations for this guest; try again later",
                    retry_after=int(decision.retry_after_header),
                )
