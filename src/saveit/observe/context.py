"""The request id and trace context that follow one piece of work across processes.

An HTTP request gets an id (its ``X-Request-ID`` or a fresh one); it lives in a
context variable, so log lines written while serving the request carry it. When
the request writes an outbox event or stores a channel message, the id and the
trace context go with the row (:func:`carrier`, which
:mod:`saveit.store.carrier` asks for), and the process that handles
the row later resumes them (:func:`resumed`): the worker's log lines and spans
belong to the request that caused them.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from saveit.observe import tracing
from saveit.store import carrier as stored_carrier
from saveit.store.carrier import META_KEY

request_id: ContextVar[str | None] = ContextVar("saveit_request_id", default=None)
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def accepted_request_id(value: str | None) -> str:
    """The client's id when it is a plain token, else a fresh one (ids end up in logs)."""
    if value and _ACCEPTED_ID.match(value):
        return value
    return f"{_minted.prefix}{next(_minted.count):016x}"


class _Minted:
    """Fresh ids: this process's random 64-bit prefix, then a counter (32 hex
    digits, like a UUID's). Unique across processes and restarts as a random id
    is, without a ``uuid4`` per request: its system call and object cost 2.4% of
    the API's interpreter time under ``bench/booking.py`` (py-spy), on the event
    loop that answers every request. A forked child draws its own prefix."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.count = itertools.count()


_minted = _Minted()
os.register_at_fork(after_in_child=_minted.renew)


def carrier() -> dict[str, str] | None:
    """What a row written now should carry: the request id and the trace context."""
    rid = request_id.get()
    found: dict[str, str] = {} if rid is None else {"request_id": rid}
    if tracing.enabled():
        tracing.inject(found)
    return found or None


# Rows the store writes from now on carry the request id and the trace context.
stored_carrier.provide(carrier)


@contextmanager
def resumed(document: Mapping[str, Any] | None) -> Iterator[None]:
    """Work on a row inside the request id and trace it was written under."""
    found = None if document is None else document.get(META_KEY)
    if not isinstance(found, Mapping):
        yield
        return
    token = request_id.set(found.get("request_id"))
    try:
        with tracing.attached(found):
            yield
    finally:
        request_id.reset(token)
