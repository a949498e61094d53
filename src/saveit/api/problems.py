"""RFC 9457 problem+json: the one place where error codes become HTTP statuses.

Clients switch on ``code``; ``status`` follows from it through :data:`STATUS`.
Bad input must never reach the catch-all, which exists for bugs only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from saveit.domain.errors import DomainError

log = logging.getLogger("saveit.api")

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "5"

STATUS: dict[str, int] = {
    "VALIDATION_ERROR": 422,
    "NOT_FOUND": 404,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "CONFLICT": 409,
    "INVALID_TRANSITION": 409,
    "SLOT_TAKEN": 409,
    "OUTSIDE_OPENING_HOURS": 422,
    "PARTY_TOO_LARGE": 422,
    "NO_SUITABLE_TABLE": 422,
    "TOO_SOON": 422,
    "TOO_FAR_AHEAD": 422,
    "TOO_LATE_TO_CANCEL": 409,
    "TOO_LATE_TO_CHANGE": 409,
    "METHOD_NOT_ALLOWED": 405,
    "INVALID_SIGNATURE": 401,
    "MALFORMED_PAYLOAD": 400,
    "LINK_CODE_INVALID": 422,
    # The door (saveit.checkin): a token we did not sign, or one for another
    # restaurant, is a bad scan, not a missing permission; the host's token is fine.
    "QR_INVALID_SIGNATURE": 422,
    "QR_UNKNOWN_KEY": 422,
    "QR_WRONG_RESTAURANT": 422,
    "QR_TOO_EARLY": 422,
    "QR_EXPIRED": 422,
    "QR_SUPERSEDED": 422,
    "RESERVATION_CANCELLED": 409,
    "RESERVATION_NO_SHOW": 409,
    "ALREADY_CHECKED_IN": 409,
    "OFFER_GONE": 409,
    "CANNOT_VERIFY": 422,
    "VERIFICATION_CODE_INVALID": 422,
    "NOT_HELD": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "HEADERS_TOO_LARGE": 431,
    "RATE_LIMITED": 429,
    "CHANNEL_NOT_PROVEN": 422,
    "PROVIDER_UNAVAILABLE": 503,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}

_RESERVED = frozenset({"type", "title", "status", "detail", "code"})
_RENAMED = {"status": "current_status", "code": "reservation_code"}


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def problem(
    code: str,
    detail: str,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
) -> JSONResponse:
    """``data`` keys that clash with the standard members are renamed, not lost
    (an invalid transition's ``status`` is the reservation's, not the HTTP one)."""
    status = status or STATUS.get(code, 500)
    body: dict[str, Any] = {
        "type": f"urn:saveit:problem:{code.lower().replace('_', '-')}",
        "title": _title(code),
        "status": status,
        "detail": detail,
        "code": code,
    }
    for key, value in (data or {}).items():
        if key in _RESERVED:
            key = _RENAMED.get(key, f"data_{key}")
        body[key] = value
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="saveit"')
    if status == 503:
        headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


def internal_error() -> JSONResponse:
    return problem("INTERNAL_ERROR", "Something went wrong on our side; it has been logged")


def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {}
    if "retry_after" in exc.data:  # RATE_LIMITED: when to come back
        headers["Retry-After"] = str(exc.data["retry_after"])
    return problem(exc.code, exc.detail, headers=headers, data=exc.data)


def _error_list(errors: Any) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem(
        "VALIDATION_ERROR", "The request is not valid", data={"errors": _error_list(exc.errors())}
    )


def _model_validation(_request: Request, exc: Exception) -> JSONResponse:
    """A spec built inside an endpoint (e.g. from a path parameter and a body)."""
    assert isinstance(exc, ValidationError)
    return problem(
        "VALIDATION_ERROR",
        "The request is not valid",
        data={"errors": _error_list(exc.errors(include_url=False, include_context=False))},
    )


def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return problem("NOT_FOUND", "No such resource", headers=headers)
    if exc.status_code == 405:
        return problem("METHOD_NOT_ALLOWED", "Method not allowed here", headers=headers)
    if exc.status_code == 400:  # FastAPI's answer to an undecodable body (e.g. not UTF-8)
        return problem("VALIDATION_ERROR", "The request body could not be read as JSON")
    if exc.status_code == 413:
        return problem("PAYLOAD_TOO_LARGE", "The request body is too large")
    code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 409: "CONFLICT"}.get(
        exc.status_code, f"HTTP_{exc.status_code}"
    )
    return problem(code, str(exc.detail), status=exc.status_code, headers=headers)


def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return problem("SERVICE_UNAVAILABLE", "The database is unavailable; try again shortly")


def install(app: FastAPI, *, unavailable: Iterable[type[Exception]] = ()) -> None:
    """``unavailable``: the database's errors that mean it cannot be reached now
    (a 503 with ``Retry-After``); the composition names them (``saveit.store.errors``)."""
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _model_validation)
    app.add_exception_handler(HTTPException, _http)
    for error in unavailable:
        app.add_exception_handler(error, _unavailable)
