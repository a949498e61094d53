"""The database's failures, for code above the store that must tell them apart
without importing SQLAlchemy: an unreachable database is a 503, a transaction
PostgreSQL aborted to break a deadlock is worth running again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import SQLAlchemyError as DatabaseError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = [
    "UNAVAILABLE",
    "DBAPIError",
    "DatabaseError",
    "IntegrityError",
    "InterfaceError",
    "OperationalError",
    "PoolTimeout",
    "is_transient",
    "retrying",
]

_T = TypeVar("_T")

# The database could not be reached or dropped the connection.
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def is_transient(exc: BaseException) -> bool:
    """Whether PostgreSQL aborted the transaction to break a deadlock or a
    serialization conflict: such a transaction changed nothing."""
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES
    )


def retrying(write: Callable[[], _T], attempts: int = 3) -> _T:
    """Run a write transaction again (up to ``attempts`` in all) when it was
    aborted for a transient reason (:func:`is_transient`)."""
    for attempt in range(attempts):
        try:
            return write()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
    raise AssertionError("unreachable")
