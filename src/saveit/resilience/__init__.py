"""Staying up when a dependency is not: a circuit breaker and the guarded Redis client.

Redis is an accelerator here (cache, rate limits), never the source of truth, so
every Redis call goes through :class:`~saveit.resilience.redis_gate.RedisGate`:
short timeouts, and a :class:`~saveit.resilience.breaker.CircuitBreaker` that,
after a few failures, skips Redis altogether for a while instead of making
every request pay a timeout. Callers catch
:class:`~saveit.resilience.redis_gate.RedisUnavailable` and fall back.
"""

from __future__ import annotations

from saveit.resilience.breaker import BreakerState, CircuitBreaker
from saveit.resilience.redis_gate import RedisGate, RedisUnavailable

__all__ = ["BreakerState", "CircuitBreaker", "RedisGate", "RedisUnavailable"]
