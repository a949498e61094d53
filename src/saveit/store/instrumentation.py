"""The engine's instrumentation: transaction timing and a span per statement.

Transaction timing comes from the connection pool's own events. Every unit of
work is one ``engine.begin()`` or ``reading()`` block, which checks a connection
out, runs one transaction and checks it back in, so the time a connection is out
of the pool is the transaction's time. Pool events are used rather than the
connection's ``begin``/``commit`` events because those switch every statement of
every connection onto SQLAlchemy's slower event-dispatching path; these cost
two clock reads per transaction.

What is done with the measurements (metrics, the tracer provider) belongs to
:mod:`saveit.observe`, which passes it in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

_STARTED = "saveit_tx_started"


def time_transactions(engine: Engine, observe: Callable[[float], object]) -> None:
    """Call ``observe`` with the duration in seconds of every pooled unit of work."""

    def checked_out(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info[_STARTED] = time.perf_counter()

    def checked_in(_dbapi: Any, record: Any) -> None:
        started = record.info.pop(_STARTED, None)
        if started is not None:
            observe(time.perf_counter() - started)

    event.listen(engine.pool, "checkout", checked_out)
    event.listen(engine.pool, "checkin", checked_in)


def trace_statements(engine: Engine, provider: Any) -> None:
    """A span per statement on this engine, from ``provider`` (an OpenTelemetry
    tracer provider). The instrumentation's engine tracer is bound directly: its
    ``instrument()`` is once per process and wraps every ``create_engine``, and
    its declared range stops below the SQLAlchemy we run, while the engine events
    it uses are unchanged (the tracing tests check it)."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("saveit").create_up_down_counter("db.client.connections.usage")
    EngineTracer(provider.get_tracer("saveit.db"), engine, usage)  # type: ignore[no-untyped-call]
