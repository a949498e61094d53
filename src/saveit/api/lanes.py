"""Threads of their own, with their own queue, for the two kinds of work a guest
waits on most: bookings and availability reads the cache missed.

FastAPI runs a sync endpoint on AnyIO's threads, and AnyIO lends each call a
token on the event loop and takes it back there. Under load the loop is busy
with the cached reads it answers itself, so a booking's token was slow to come
and slow to return: at saturation (``bench/booking.py``, timed inside the
process) a booking's thread waited ~19 ms for the loop to hand it its work and
its token went back ~12 ms after the booking was done, against ~58 ms of
booking. With a pool of its own, a thread that finishes one call takes the next
queued one at once. Each lane is also a bulkhead: bookings never wait behind the
threads of other pages (a staff export, a console screen), nor a guest's read
behind a burst of bookings.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")


class ThreadLane:
    def __init__(self, name: str, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"saveit-{name}")

    async def run(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``call`` on one of the lane's threads, with the caller's context variables
        (request id, tenant, trace) as AnyIO would pass them. A request cancelled
        while its call waits in the queue is dropped from it; one that has started
        runs to its end, as on AnyIO's threads."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(context.run, call, *args, **kwargs))

    def close(self) -> None:
        """Wait for the calls started or queued, then stop the threads."""
        self._pool.shutdown(wait=True)
