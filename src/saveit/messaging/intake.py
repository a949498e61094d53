"""Group commit for webhook acknowledgements.

A provider is acknowledged only once its messages are committed (persist
first), so every webhook waits for a commit. One transaction per webhook made
a thread-pool hop, a connection checkout and three round trips (begin, insert,
commit) the price of every acknowledgement, each hop waiting its turn for the
interpreter: at 64 concurrent senders a process spent its time queueing for
commits (``bench/webhooks.py``: ~640 acks/s, p99 ~350 ms, against
~5,000 acks/s when the route skipped the database).

:class:`Intake` lets the webhooks that arrive together share one transaction:
the first caller starts a flush; whoever arrives while a flush is in flight
waits for the next one, which takes everything that piled up (up to
``max_batch`` webhooks) in one multi-row insert and one commit
(:meth:`Gateway.receive_many`). A lone webhook is flushed at once — there is
no timer, so an idle process adds no delay — and under load the batch grows
with the load, which is what keeps the wait short. Nothing is acknowledged
before its own group has committed, so a process that dies mid-flush loses
only unacknowledged webhooks, which the provider retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import anyio.to_thread

from saveit.domain.messages import WebhookBatch
from saveit.messaging.gateway import Receipt

ReceiveMany = Callable[[Sequence[WebhookBatch]], list[Receipt | Exception]]


class Intake:
    """One per event loop (per API process); see the module docstring.

    Up to ``flushes`` groups are in flight at once: with one, a webhook arriving
    just after a flush started waited for that whole flush and then its own;
    with two, it is taken by the next free flush while the first commits.
    """

    def __init__(
        self, receive_many: ReceiveMany, *, max_batch: int = 256, flushes: int = 2
    ) -> None:
        self._receive_many = receive_many
        self._max_batch = max_batch
        self._flushes = flushes
        self._waiting: list[tuple[WebhookBatch, asyncio.Future[Receipt]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def receive(self, batch: WebhookBatch) -> Receipt:
        """Store ``batch`` with whatever else is waiting; return once it is committed."""
        done: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._waiting.append((batch, done))
        if len(self._flushing) < self._flushes:
            task = asyncio.create_task(self._flush())
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        # Shielded: a sender that hangs up must not cancel the others' commit; its
        # webhook is stored anyway, and the provider's retry is then a duplicate.
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                results = await anyio.to_thread.run_sync(
                    self._receive_many, [batch for batch, _ in group]
                )
            except Exception as exc:  # the database is away: every caller hears it
                results = [exc] * len(group)
            for (_, done), result in zip(group, results, strict=True):
                if isinstance(result, Exception):
                    done.set_exception(result)
                    done.exception()  # seen: a caller that hung up must not log it again
                else:
                    done.set_result(result)
