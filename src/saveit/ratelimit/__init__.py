"""Rate limits: GCRA per IP, per API token and per guest identity, in Redis
(shared by every API process) or in process memory (embedded default, and the
fallback while Redis is away). Refusals are 429 problem+json ``RATE_LIMITED``
with ``Retry-After``."""

from __future__ import annotations

from saveit.ratelimit.gcra import Decision, MemoryGcra, RedisGcra, Rule
from saveit.ratelimit.limiter import RateLimited, RateLimiter

__all__ = ["Decision", "MemoryGcra", "RateLimited", "RateLimiter", "RedisGcra", "Rule"]
