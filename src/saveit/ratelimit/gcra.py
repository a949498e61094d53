"""GCRA (the generic cell rate algorithm), in Redis and in process memory.

Why GCRA: one number per identity (the *theoretical arrival time*, TAT), one
atomic read-modify-write per request, an exact ``Retry-After``, and smooth
refill instead of a fixed window's double burst at the window edge.

A rule allows ``limit`` requests per ``period_s``: each request advances the
TAT by ``T = period_s / limit``; a request is allowed while the TAT is at most
``period_s - T`` ahead of now, i.e. bursts of up to ``limit`` requests, then
one every ``T``. In Redis the script reads the server's clock (``TIME``), so
every API process judges by the same clock, and the key expires when the TAT
has passed (an idle identity costs no memory).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from saveit.resilience.redis_gate import RedisGate

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return {0, allow_at - now} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
return {1, 0}
"""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    limit: int
    period_s: float

    @property
    def interval_ms(self) -> int:
        return max(1, round(self.period_s * 1000 / self.limit))

    @property
    def tolerance_ms(self) -> int:
        return max(0, round(self.period_s * 1000) - self.interval_ms)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


class RedisGcra:
    """Shared by every process on the Redis; raises ``RedisUnavailable`` when away."""

    def __init__(self, gate: RedisGate, prefix: str) -> None:
        self.gate = gate
        self.prefix = prefix
        self._script = gate.client.register_script(_SCRIPT)

    def hit(self, rule: Rule, identity: str) -> Decision:
        key = f"{self.prefix}:rl:{rule.name}:{identity}"
        args = [rule.interval_ms, rule.tolerance_ms]
        result: Any = self.gate.run(
            lambda client: self._script(keys=[key], args=args, client=client)
        )
        allowed, wait_ms = int(result[0]), int(result[1])
        return Decision(bool(allowed), wait_ms / 1000)


class MemoryGcra:
    """The same algorithm for one process: the embedded default, and the fallback
    while Redis is away (limits then hold per process, not across them)."""

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._tat: dict[tuple[str, str], float] = {}

    def hit(self, rule: Rule, identity: str) -> Decision:
        now = self._clock() * 1000
        key = (rule.name, identity)
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            allow_at = tat - rule.tolerance_ms
            if now < allow_at:
                return Decision(False, (allow_at - now) / 1000)
            self._tat[key] = tat + rule.interval_ms
            if len(self._tat) > self.max_keys:
                self._sweep(now)
        return Decision(True)

    def _sweep(self, now: float) -> None:
        """Drop identities whose TAT has passed (they would start afresh anyway)."""
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        while len(self._tat) > self.max_keys:  # still full of live keys: forget the oldest
            self._tat.pop(next(iter(self._tat)))
