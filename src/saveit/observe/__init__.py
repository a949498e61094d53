"""Operations: metrics, structured logs with a request id, traces, the double-booking audit.

Everything here is cheap on the hot paths (a counter increment where the event
already happens, no database round trip per request) and optional: metrics
behind ``SAVEIT_METRICS_ENABLED``, traces only with ``SAVEIT_OTEL_ENDPOINT``.
"""
