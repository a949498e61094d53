"""Where cached availability lives: a Redis hash per restaurant-day, or process memory.

A *bucket* is one restaurant's service day; its *fields* are the variants read
for it (config version, party size, area, staff or public). Invalidation works
per bucket, because a booking changes every variant of its day at once: it
deletes the bucket and bumps the bucket's *generation*.

The generation closes the classic race of read-through caches: a reader misses,
reads the database, a booking commits and invalidates, and only then does the
reader store what it read — now stale. Here the reader notes the generation
*before* reading the database and its ``put`` is refused if the generation has
moved since (atomically, in a Lua script on Redis). Because the writer bumps the
generation *after* its commit, a reader that saw the old generation either
stores before the bump (and the bump deletes it) or is refused.

Per-field TTLs need Redis 7.4, so each value carries its own timestamp and the
reader ignores old ones; the hash's own expiry only collects garbage.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from saveit.resilience.breaker import BreakerState
from saveit.resilience.redis_gate import RedisGate, RedisUnavailable

GENERATION_TTL_S = 24 * 3600  # far beyond any entry's life: an expired gen would reset to 0
GEN = "_gen"  # the generation lives in the bucket's hash, so a read is one HMGET

_PUT_IF_GENERATION = """
local gen = redis.call('HGET', KEYS[1], '_gen') or '0'
if gen ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

_INVALIDATE = """
local gen = redis.call('HINCRBY', KEYS[1], '_gen', 1)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_gen', gen)
redis.call('EXPIRE', KEYS[1], ARGV[1])
return gen
"""


Put = tuple[str, Sequence[tuple[str, bytes]], str]  # bucket, (key, value) pairs, generation


class CacheStore(Protocol):
    def get(self, bucket: str, key: str) -> tuple[bytes | None, str]:
        """The value (or None) and the bucket's current generation.

        Raises :class:`~saveit.resilience.RedisUnavailable` when the store is away."""

    def put(
        self, bucket: str, items: Sequence[tuple[str, bytes]], generation: str, ttl_s: float
    ) -> bool:
        """Store ``(key, value)`` pairs unless the bucket's generation moved from
        ``generation``. The first pair is the one a reader asked for: a store may
        keep only that one (the near cache's process memory does)."""

    def invalidate(self, buckets: Sequence[str]) -> None:
        """Drop every key of these buckets and bump their generations."""

    def get_many(self, buckets: Sequence[str], key: str) -> list[tuple[bytes | None, str]]:
        """:meth:`get` of one key in several buckets, in one round trip."""

    def put_many(self, puts: Sequence[Put], ttl_s: float) -> list[bool]:
        """:meth:`put` into several buckets, in one round trip; a result per bucket."""


@dataclass
class _Bucket:
    generation: int = 0
    values: dict[str, tuple[float, float, bytes]] = field(default_factory=dict)  # expires, at
    dropped: frozenset[str] = frozenset()  # the keys the last invalidation cleared


class MemoryStore:
    """The embedded default: a bounded in-process map, same contract as Redis."""

    def __init__(
        self, *, max_buckets: int = 20_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_buckets = max_buckets
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def get(
        self, bucket: str, key: str, *, max_age_s: float | None = None
    ) -> tuple[bytes | None, str]:
        """``max_age_s``: also ignore a value stored longer ago than this."""
        with self._lock:
            found = self._buckets.get(bucket)
            if found is None:
                return None, "0"
            entry = found.values.get(key)
            now = self._clock()
            if entry is None or entry[0] <= now:
                return None, str(found.generation)
            if max_age_s is not None and now - entry[1] > max_age_s:
                return None, str(found.generation)
            return entry[2], str(found.generation)

    def put(
        self, bucket: str, items: Sequence[tuple[str, bytes]], generation: str, ttl_s: float
    ) -> bool:
        with self._lock:
            found = self._buckets.get(bucket)
            if str(found.generation if found else 0) != generation:
                return False
            if found is None:
                found = self._buckets[bucket] = _Bucket()
                while len(self._buckets) > self.max_buckets:
                    self._buckets.popitem(last=False)
            now = self._clock()
            for key, value in items:
                found.values[key] = (now + ttl_s, now, value)
            return True

    def invalidate(self, buckets: Sequence[str]) -> None:
        with self._lock:
            for bucket in buckets:
                found = self._buckets.get(bucket)
                if found is None:
                    found = self._buckets[bucket] = _Bucket()
                found.generation += 1
                if found.values:  # two invalidations in a row keep the first's keys
                    found.dropped = frozenset(found.values)
                found.values.clear()
                self._buckets.move_to_end(bucket)

    def dropped(self, bucket: str) -> frozenset[str]:
        """The keys this bucket held until its last invalidation and lacks now: the
        variants this process reads of that day, which a refill can fetch at once."""
        with self._lock:
            found = self._buckets.get(bucket)
            if found is None:
                return frozenset()
            return found.dropped - found.values.keys()

    def get_many(self, buckets: Sequence[str], key: str) -> list[tuple[bytes | None, str]]:
        return [self.get(bucket, key) for bucket in buckets]

    def put_many(self, puts: Sequence[Put], ttl_s: float) -> list[bool]:
        return [self.put(bucket, items, generation, ttl_s) for bucket, items, generation in puts]


class RedisStore:
    """Shared by every process on the same Redis; see the module docstring. One hash
    per bucket holds the variants and the ``_gen`` field, so a read is a single
    ``HMGET`` and both scripts touch one key (fine on Redis Cluster too)."""

    def __init__(self, gate: RedisGate, prefix: str) -> None:
        self.gate = gate
        self.prefix = prefix
        self._put = gate.client.register_script(_PUT_IF_GENERATION)
        self._invalidate = gate.client.register_script(_INVALIDATE)

    def key_of(self, bucket: str) -> str:
        return f"{self.prefix}:avail:{{{bucket}}}"

    def get(self, bucket: str, key: str) -> tuple[bytes | None, str]:
        found: Any = self.gate.run(lambda client: client.hmget(self.key_of(bucket), [key, GEN]))
        value, generation = found
        return value, (generation.decode() if generation else "0")

    async def aget(self, bucket: str, keys: Sequence[str]) -> list[bytes | None]:
        """These keys' values (None where absent), from the event loop in one
        ``HMGET`` (see ``RedisGate.arun``)."""
        found: Any = await self.gate.arun(
            lambda client: client.hmget(self.key_of(bucket), list(keys))
        )
        return list(found)

    def put(
        self, bucket: str, items: Sequence[tuple[str, bytes]], generation: str, ttl_s: float
    ) -> bool:
        """All pairs in one script call (one round trip), under the generation guard."""
        args = _put_args(items, generation, ttl_s)
        done = self.gate.run(
            lambda client: self._put(keys=[self.key_of(bucket)], args=args, client=client)
        )
        return bool(done)

    def get_many(self, buckets: Sequence[str], key: str) -> list[tuple[bytes | None, str]]:
        def call(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for bucket in buckets:
                pipe.hmget(self.key_of(bucket), [key, GEN])
            return list(pipe.execute())

        found = self.gate.run(call) if buckets else []
        return [(value, gen.decode() if gen else "0") for value, gen in found]

    def put_many(self, puts: Sequence[Put], ttl_s: float) -> list[bool]:
        """One pipeline of ``EVALSHA`` (each bucket its own key, so Redis Cluster can
        split it); a script Redis has forgotten (a restart) is loaded by calling
        it once more on its own."""
        calls = [(self.key_of(b), _put_args(items, gen, ttl_s)) for b, items, gen in puts]

        def call(client: Any) -> list[bool]:
            pipe = client.pipeline(transaction=False)
            for key, args in calls:
                pipe.evalsha(self._put.sha, 1, key, *args)
            results = pipe.execute(raise_on_error=False)
            return [
                bool(self._put(keys=[key], args=args, client=client))
                if isinstance(result, NoScriptError)
                else bool(result)
                for (key, args), result in zip(calls, results, strict=True)
            ]

        return self.gate.run(call) if calls else []

    def invalidate(self, buckets: Sequence[str]) -> None:
        if not buckets:
            return

        def call(client: Any) -> None:
            # One EVALSHA per bucket (one or two per change). Not a pipeline:
            # redis-py sends SCRIPT EXISTS before every pipeline that holds a
            # script, which doubled the round trips.
            for bucket in buckets:
                self._invalidate(keys=[self.key_of(bucket)], args=[GENERATION_TTL_S], client=client)

        self.gate.run(call)

    async def ainvalidate(self, buckets: Sequence[str]) -> None:
        """:meth:`invalidate` from the event loop (see ``RedisGate.arun``); a script
        Redis has forgotten (a restart) is sent whole."""

        async def call(client: Any) -> None:
            for bucket in buckets:
                args = (1, self.key_of(bucket), GENERATION_TTL_S)
                try:
                    await client.evalsha(self._invalidate.sha, *args)
                except NoScriptError:
                    await client.eval(_INVALIDATE, *args)

        if buckets:
            await self.gate.arun(call)


def _put_args(items: Sequence[tuple[str, bytes]], generation: str, ttl_s: float) -> list[Any]:
    args: list[Any] = [generation, max(1, int(ttl_s * 1000))]
    for key, value in items:
        args += (key, value)
    return args


class NearCache:
    """Redis behind a copy in process memory.

    Why: a Redis round trip through redis-py costs a few hundred microseconds of
    CPU per read, more than the rest of a cached request. The local copy is
    invalidated with Redis (after commit here, from the event stream for other
    processes' writes, typically within ~0.1 s). Each tier keeps its own
    generation guard. While the Redis breaker is open, both tiers are bypassed,
    as without a cache.

    How long a copy is used: as long as its entry (``entry_ttl_s``) while this
    process is known to hear every invalidation — it read the event stream and
    the relay reported itself caught up within the last moments (:meth:`trust`,
    granted by :class:`saveit.cache.invalidation.StreamWatch`); otherwise
    ``local_ttl_s`` (~1 s), which bounds staleness if the event path stalls.
    Most reads of a platform are spread over many restaurants and days, each
    read every few seconds: with the 1 s rule each was a Redis round trip
    (``bench/tenants.py``, steady state), with the stream trusted it is not.
    """

    def __init__(
        self,
        shared: RedisStore,
        *,
        local_ttl_s: float = 1.0,
        entry_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = MemoryStore(clock=clock)
        self.local_ttl_s = local_ttl_s
        self.entry_ttl_s = max(entry_ttl_s, local_ttl_s)
        self._clock = clock
        self._trusted_until = 0.0

    def trust(self, for_s: float) -> None:
        """This process hears every invalidation now: copies may live their entry's
        life for the next ``for_s`` seconds (renewed while that stays true)."""
        self._trusted_until = self._clock() + for_s

    def distrust(self) -> None:
        self._trusted_until = 0.0

    @property
    def trusted(self) -> bool:
        return self._clock() < self._trusted_until

    def local_max_age(self) -> float | None:
        """How old a local copy may be to be used now (None: as old as it lives)."""
        return None if self.trusted else self.local_ttl_s

    def get(self, bucket: str, key: str) -> tuple[bytes | None, str]:
        if self.shared.gate.breaker.state is BreakerState.OPEN:
            raise RedisUnavailable("circuit open: cache bypassed")
        value, local_gen = self.local.get(bucket, key, max_age_s=self.local_max_age())
        if value is not None:
            return value, f"{local_gen}|"
        value, shared_gen = self.shared.get(bucket, key)
        if value is not None:
            self.local.put(bucket, [(key, value)], local_gen, self.entry_ttl_s)
        return value, f"{local_gen}|{shared_gen}"

    async def aget_shared(self, bucket: str, key: str) -> bytes | None:
        """A value only Redis holds, read from the event loop and copied into process
        memory like :meth:`get` does (under the local generation read before asking,
        so a copy that raced an invalidation is refused). Raises
        :class:`~saveit.resilience.RedisUnavailable` (the gate's breaker included).

        The other variants of the day that this process held until the day's last
        invalidation come in the same ``HMGET``: a booking drops every party size of
        its day here, and each was then a round trip of its own on the event loop,
        most of a busy restaurant's availability reads (``bench/booking.py``)."""
        _, local_gen = self.local.get(bucket, key)
        keys = [key, *sorted(self.local.dropped(bucket) - {key})]
        values = await self.shared.aget(bucket, keys)
        found = [(k, v) for k, v in zip(keys, values, strict=True) if v is not None]
        if found:
            self.local.put(bucket, found, local_gen, self.entry_ttl_s)
        return values[0]

    def put(
        self, bucket: str, items: Sequence[tuple[str, bytes]], generation: str, ttl_s: float
    ) -> bool:
        """Every pair to Redis; to process memory only the first, the one asked for
        (the others come from Redis if and when they are read here)."""
        return self.put_many([(bucket, items, generation)], ttl_s)[0]

    def invalidate(self, buckets: Sequence[str]) -> None:
        self.local.invalidate(buckets)
        self.shared.invalidate(buckets)

    async def ainvalidate(self, buckets: Sequence[str]) -> None:
        """:meth:`invalidate` from the event loop, Redis first: a copy this process
        took from Redis before Redis forgot the day is dropped after it."""
        await self.shared.ainvalidate(buckets)
        self.local.invalidate(buckets)

    def get_many(self, buckets: Sequence[str], key: str) -> list[tuple[bytes | None, str]]:
        """Like :meth:`get` for each bucket; what process memory lacks, from Redis in
        one round trip."""
        if self.shared.gate.breaker.state is BreakerState.OPEN:
            raise RedisUnavailable("circuit open: cache bypassed")
        max_age = self.local_max_age()
        local = [self.local.get(bucket, key, max_age_s=max_age) for bucket in buckets]
        wanted = [
            bucket for bucket, (value, _) in zip(buckets, local, strict=True) if value is None
        ]
        shared = iter(self.shared.get_many(wanted, key))
        found: list[tuple[bytes | None, str]] = []
        for value, local_gen in local:
            if value is not None:
                found.append((value, f"{local_gen}|"))
            else:
                value, shared_gen = next(shared)
                found.append((value, f"{local_gen}|{shared_gen}"))
        return found

    def put_many(self, puts: Sequence[Put], ttl_s: float) -> list[bool]:
        """Every pair to Redis; to process memory each bucket's first pair (as
        :meth:`put`): a guest's week filled on a miss is the size they asked for on
        each day, which they are likely to ask for next, here. Also kept here: the
        pairs of the keys the bucket held until its last invalidation (the day's
        other variants this process reads, computed by the same miss)."""
        shared = [(b, items, gen.partition("|")[2] or "0") for b, items, gen in puts]
        done = self.shared.put_many(shared, ttl_s)
        for stored, (bucket, items, generation) in zip(done, puts, strict=True):
            if stored:
                local_gen = generation.partition("|")[0]
                dropped = self.local.dropped(bucket)
                kept = [*items[:1], *(item for item in items[1:] if item[0] in dropped)]
                self.local.put(bucket, kept, local_gen, min(ttl_s, self.entry_ttl_s))
        return done

    def invalidate_local(self, buckets: Sequence[str]) -> None:
        """Only this process's copies: for another process's change that the
        writer has already invalidated in Redis."""
        self.local.invalidate(buckets)
