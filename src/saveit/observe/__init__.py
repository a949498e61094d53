"""Operations: metrics, structured logs with a request id, traces, the double-booking audit.

Everything here is cheap on the hot paths (a counter increment where the event
already happens, no database round trip per request) and optional: metrics
behind ``SAVEIT_METRICS_ENABLED``, traces only with ``SAVEIT_OTEL_ENDPOINT``.
"""

# Imported with the package: the store's rows carry the request id and the trace
# context in every process that observes anything (see saveit.store.carrier).
from saveit.observe import context as _context  # noqa: F401
