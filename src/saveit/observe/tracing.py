"""OpenTelemetry traces, off unless ``SAVEIT_OTEL_ENDPOINT`` names an OTLP/HTTP collector.

A webhook's trace runs from the request span through its database statements,
the stored message or outbox event (which carry the context, see
:mod:`saveit.observe.context`), the worker that answers it and the provider
send. With tracing off, every helper here is a cheap no-op.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

if TYPE_CHECKING:
    from fastapi import FastAPI

    from saveit.store.unit_of_work import Database, DatabaseLike

_lock = threading.Lock()
_provider: TracerProvider | None = None


def enabled() -> bool:
    return _provider is not None


def install(
    *,
    service_name: str = "saveit",
    endpoint: str | None = None,
    processor: SpanProcessor | None = None,
) -> TracerProvider:
    """Install the process's tracer provider once (later calls add their exporter)."""
    global _provider
    with _lock:
        if _provider is None:
            _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
        if endpoint is not None:
            _provider.add_span_processor(BatchSpanProcessor(_otlp(endpoint)))
        if processor is not None:
            _provider.add_span_processor(processor)
        return _provider


def uninstall() -> None:
    """Stop tracing in this process (tests): our spans, carriers and instrumentations
    of engines and apps built from now on are off again."""
    global _provider
    with _lock:
        if _provider is None:
            return
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().uninstrument()
        _provider.force_flush()
        _provider = None


def _otlp(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


def instrument_engine(database: Database | DatabaseLike) -> None:
    """A span per statement on the database's engine
    (:func:`saveit.store.instrumentation.trace_statements`)."""
    if _provider is None:
        return
    from saveit.store.instrumentation import trace_statements

    trace_statements(database.engine, _provider)


def instrument_app(app: FastAPI) -> None:
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider)


def inject(carrier: dict[str, str]) -> None:
    propagate.inject(carrier)


@contextmanager
def attached(carrier: Mapping[str, Any]) -> Iterator[None]:
    """Make the trace named in ``carrier`` (``traceparent``) the current one."""
    if _provider is None or "traceparent" not in carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(dict(carrier)))
    try:
        yield
    finally:
        otel_context.detach(token)


def span(name: str, **attributes: Any) -> Any:
    """A span of our own (``with span("channel.send", channel="sms"):``); no-op when off."""
    if _provider is None:
        return nullcontext()
    return _provider.get_tracer("saveit").start_as_current_span(name, attributes=attributes)
