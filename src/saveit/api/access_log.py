"""The access log never shows a credential that came in a query string.

Some URLs carry one by necessity (a QR image link a provider fetches, Meta's
``hub.verify_token``) and old clients may still send others; uvicorn logs the
whole path. :class:`RedactSecrets` rewrites those values to ``REDACTED`` in
each access-log record before any handler formats it.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from uvicorn.config import LOGGING_CONFIG

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "REDACTED"
SECRET_WORDS = ("token", "session", "secret", "password", "signature", "key", "auth", "code")
"""A query parameter whose name contains one of these has its value hidden.
(``code`` covers OAuth-style codes; a reservation code is in the path, not the query.)"""

_PARAM = re.compile(r"(?P<lead>^|[&;])(?P<name>[^=&;]*)=(?P<value>[^&;]*)")


def _secret_name(name: str) -> bool:
    plain = unquote_plus(name).lower()
    return any(word in plain for word in SECRET_WORDS)


def redact_url(url: str) -> str:
    """``url`` with the values of secret-looking query parameters replaced."""
    path, mark, query = url.partition("?")
    if not mark:
        return url

    def hide(found: re.Match[str]) -> str:
        if not _secret_name(found["name"]) or not found["value"]:
            return found[0]
        return f"{found['lead']}{found['name']}={REDACTED}"

    return f"{path}?{_PARAM.sub(hide, query)}"


class RedactSecrets(logging.Filter):
    """For uvicorn's access records: ``args`` is (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger (once), however uvicorn was started."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())


def with_redaction(config: dict[str, Any]) -> dict[str, Any]:
    """A ``dictConfig`` document (uvicorn's ``log_config``) whose access logger hides
    query-string secrets, whatever handlers the document gives it."""
    config = copy.deepcopy(config)
    config.setdefault("filters", {})["redact_secrets"] = {"()": RedactSecrets}
    access = config.setdefault("loggers", {}).setdefault("uvicorn.access", {})
    access["filters"] = [*access.get("filters", []), "redact_secrets"]
    return config


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging, with the access logger redacting secrets."""
    return with_redaction(LOGGING_CONFIG)
