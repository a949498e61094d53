"""Structured logs: one JSON object per line (``python-json-logger``), or plain text
in development, each line with the request id it was written under.

Personal data never reaches a log line: :class:`Redact` rewrites every record's
message and traceback, replacing email addresses and phone numbers, before any
handler sees it. Code must not log guests' names or message texts in the first
place (tests drive a booking and a webhook and look for them); the filter is the
net under that rule for what slips through in exception texts and addresses.
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import IO, Any

from saveit.observe.context import request_id

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: international (+ and 7+ digits with the usual separators), or
# national as 9+ digits, bare or in groups split by spaces or dots. Dates and
# times (2026-12-03T20:00:00+01:00) do not match.
_PHONE = re.compile(
    r"(?<![\w+-])"
    r"(?:\+\d[\d\s().-]{5,}\d|\d{9,}|\d{3}[ .]\d{2,3}[ .]\d{2,3}(?:[ .]\d{2,3})?)"
    r"(?![\w:])"
)

JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


def scrub(text: str) -> str:
    """``text`` with email addresses and phone numbers replaced."""
    if "@" in text:
        text = _EMAIL.sub("<email>", text)
    return _PHONE.sub("<phone>", text)


class Redact(logging.Filter):
    """Removes personal data from the rendered message and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template only
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
            record.exc_info = None
        return True


class RequestId(logging.Filter):
    """Adds ``request_id`` (the request, or the event a worker handles; else ``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


def config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: our handler on the root logger, and
    uvicorn's loggers sent to it (uvicorn applies this in each worker process)."""
    formatter: dict[str, Any]
    if log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FORMAT,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": "saveit.observe.logs.Redact"},
            "request_id": {"()": "saveit.observe.logs.RequestId"},
        },
        "formatters": {"saveit": formatter},
        "handlers": {
            "saveit": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "saveit",
                "filters": ["redact", "request_id"],
            }
        },
        "root": {"handlers": ["saveit"], "level": level.upper()},
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True, "level": "INFO"}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # One line per provider request is noise beside our own send records and
            # metrics, and costs the channel workers a formatted, redacted record each.
            **{name: {"level": "WARNING"} for name in ("httpx", "httpcore")},
        },
    }


def configure(log_format: str = "text", level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Set up this process's logging (``stream``: write there instead of stderr)."""
    document = config(log_format, level)
    if stream is not None:
        document["handlers"]["saveit"]["stream"] = stream
    access = logging.getLogger("uvicorn.access")
    # ``uvicorn --no-access-log`` has already silenced it (no handlers, no propagation)
    # by the time the app factory calls this: keep it so rather than turn it back on.
    silenced = not access.propagate and not access.handlers
    logging.config.dictConfig(document)
    if silenced:
        access.propagate = False
