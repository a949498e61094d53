"""The one Redis client for the cache and the rate limits, behind a circuit breaker.

Short socket and connect timeouts and no redis-py retries, so a dead or hung
Redis costs a request at most ``timeout_s`` until the breaker opens, and
nothing afterwards. The event bus and the live feed keep clients of their own
(they block on reads and own their backoff); this one is for the request path.

:meth:`RedisGate.arun` is the same gate for code on the event loop (the cached
availability answered before routing, ``saveit.api.hot_reads``): an asyncio
client of its own, made on first use in the running loop and closed with
:meth:`RedisGate.aclose` when the application stops; the breaker is shared.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from saveit.resilience.breaker import BreakerState, CircuitBreaker

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class RedisUnavailable(Exception):
    """Redis was not asked (breaker open) or did not answer; fall back."""


class RedisGate:
    def __init__(self, url: str, *, breaker: CircuitBreaker, timeout_s: float = 0.25) -> None:
        self.breaker = breaker
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            client_name="saveit-requests",
        )
        self._last_trouble = float("-inf")  # monotonic time of the last connection failure
        self._url = url
        self._timeout_s = timeout_s
        self._async: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None

    def run(self, call: Callable[[redis.Redis], _T]) -> _T:
        """``call(client)`` unless the breaker is open; Redis errors become
        :class:`RedisUnavailable`. Only connection trouble counts against the
        breaker: a refused command is a bug, not an outage."""
        if not self.breaker.allow():
            raise RedisUnavailable(f"circuit {self.breaker.name} is open")
        try:
            result = call(self.client)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._last_trouble = time.monotonic()
            self.breaker.record_failure()
            raise RedisUnavailable(str(exc) or exc.__class__.__name__) from exc
        except redis.RedisError as exc:
            self.breaker.record_success()  # it answered
            log.error("redis refused a command: %s", exc)
            raise RedisUnavailable(f"redis refused: {exc}") from exc
        self.breaker.record_success()
        return result

    async def arun(self, call: Callable[[redis.asyncio.Redis], Awaitable[_T]]) -> _T:
        """:meth:`run` for the event loop."""
        if not self.breaker.allow():
            raise RedisUnavailable(f"circuit {self.breaker.name} is open")
        try:
            result = await call(self._async_client())
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._last_trouble = time.monotonic()
            self.breaker.record_failure()
            raise RedisUnavailable(str(exc) or exc.__class__.__name__) from exc
        except redis.RedisError as exc:
            self.breaker.record_success()
            log.error("redis refused a command: %s", exc)
            raise RedisUnavailable(f"redis refused: {exc}") from exc
        self.breaker.record_success()
        return result

    def _async_client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = redis.asyncio.Redis.from_url(
                self._url,
                socket_timeout=self._timeout_s,
                socket_connect_timeout=self._timeout_s,
                retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
                health_check_interval=0,
                client_name="saveit-requests",
            )
            self._async = (loop, client)
        return self._async[1]

    async def aclose(self) -> None:
        """Close the event loop's client (from that loop), if one was made."""
        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            await self._async[1].aclose()
        self._async = None

    def troubled_within(self, seconds: float) -> bool:
        """Whether Redis failed us lately (or the breaker is not closed): writes made
        then may have missed their cache invalidation."""
        recent = time.monotonic() - self._last_trouble < seconds
        return recent or self.breaker.state is not BreakerState.CLOSED

    def ping(self) -> bool:
        """For readiness: True when Redis answers (a trial call when half-open)."""
        try:
            return bool(self.run(lambda r: r.ping()))
        except RedisUnavailable:
            return False

    def close(self) -> None:
        self.client.close()
