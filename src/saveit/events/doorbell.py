"""The outbox doorbell across processes: an API process that commits events tells
the worker's relay on a Redis channel, so a live update does not wait for the
relay's next poll.

Why Redis ``PUBLISH`` and not PostgreSQL ``NOTIFY`` (which the channel workers
use, :mod:`saveit.messaging.workers`): PostgreSQL serialises the commits of all
transactions that notify, holding a database-wide lock across the WAL flush, and
every booking writes an event; that lock would cap booking throughput. A
publish costs a round trip to a server the events already ride on, and it is
made off the request's thread.

* :class:`RedisDoorbell` (API processes): :meth:`~RedisDoorbell.ring` only sets
  an event; a daemon thread publishes one message per wake-up, so a burst of
  commits costs one publish, and a slow or absent Redis never delays a request.
* :class:`DoorbellListener` (the worker): subscribes and wakes the relay on every
  message, and once on every (re)connection, since a ring may have gone by
  while it was away.

A ring is a hint, not a delivery: the relay still polls, and a lost message
costs one poll interval (``SAVEIT_RELAY_POLL_INTERVAL_S``), no event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


def channel_of(stream: str) -> str:
    """The Redis channel that rings for the events stream ``stream``."""
    return f"{stream}:doorbell"


def _client(url: str, timeout_s: float, name: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 0.5),
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
        client_name=name,
    )


class RedisDoorbell:
    """Rings the worker's relay from a process that writes events but relays none."""

    def __init__(self, url: str, channel: str, *, timeout_s: float = 1.0) -> None:
        self.channel = channel
        self._url = url
        self._timeout_s = timeout_s
        self._rung = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0

    def ring(self) -> None:
        """Called after a commit, on the request's thread: never blocks."""
        self._rung.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="saveit-doorbell", daemon=True)
            self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._rung.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        client = _client(self._url, self._timeout_s, "saveit-doorbell")
        backoff = 0.1
        try:
            while not self._stop.is_set():
                self._rung.wait()
                self._rung.clear()
                if self._stop.is_set():
                    break
                try:
                    client.publish(self.channel, b"")
                    self.published += 1
                    backoff = 0.1
                except redis.RedisError as exc:  # the relay's poll covers for it
                    log.debug("doorbell: publish failed: %s", exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            client.close()


class DoorbellListener:
    """Hears rings on the Redis channel and calls ``wake`` for each."""

    def __init__(
        self, url: str, channel: str, wake: Callable[[], None], *, timeout_s: float = 1.0
    ) -> None:
        self.channel = channel
        self._url = url
        self._wake = wake
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="saveit-doorbell-listener", daemon=True
            )
            self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            client = _client(self._url, self._timeout_s, "saveit-doorbell-listener")
            pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
            try:
                pubsub.subscribe(self.channel)
                self._wake()  # a ring may have gone by while nobody listened
                backoff = 0.1
                while not self._stop.is_set():
                    # Below the socket timeout, so an idle wait is not taken for a dead server.
                    message = pubsub.get_message(timeout=self._timeout_s * 0.8)
                    if message is not None:
                        self._wake()
            except redis.RedisError as exc:
                log.warning("doorbell: listener lost Redis, polling meanwhile: %s", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                pubsub.close()
                client.close()


# --- the relay's "caught up" mark ----------------------------------------------------------
#
# A process may keep its near copies of cached availability for as long as their
# entries live only while it hears every invalidation (saveit.cache.store.NearCache).
# Hearing the stream is not enough: with the relay stopped or behind, nothing
# reaches the stream to be heard. So the relay marks, in Redis, that it has just
# published everything committed; the mark lives HEARTBEAT_LIFE_S, and the
# invalidation feed of each API process looks at it (StreamWatch).

HEARTBEAT_EVERY_S = 0.5
HEARTBEAT_LIFE_S = 2.0


def caught_up_key(stream: str) -> str:
    """The Redis key whose presence says the relay of ``stream`` is caught up."""
    return f"{stream}:relay-caught-up"


class RelayHeartbeat:
    """Called by the relay each time it has drained the outbox; writes the mark at
    most every ``HEARTBEAT_EVERY_S``."""

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = caught_up_key(stream)
        self._client = _client(url, timeout_s, "saveit-relay-heartbeat")
        self._clock = clock
        self._last = -HEARTBEAT_EVERY_S

    def __call__(self) -> None:
        now = self._clock()
        if now - self._last < HEARTBEAT_EVERY_S:
            return
        self._last = now
        try:
            self._client.set(self.key, b"1", px=int(HEARTBEAT_LIFE_S * 1000))
        except redis.RedisError as exc:  # the mark lapses: readers fall back to short copies
            log.debug("relay heartbeat: %s", exc)

    def close(self) -> None:
        self._client.close()
