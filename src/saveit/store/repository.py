"""The base of the store's repositories: a store module's functions, bound to one
connection (a unit of work's or a reader's, see :mod:`saveit.store.unit_of_work`).

A store function keeps the connection as its first parameter; its repository
lists it once (``view_by_code = bound(view_by_code)``), and
``uow.reservations.view_by_code(code)`` calls it with the unit of work's
connection. The signature, minus the connection, is what type checkers see.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sqlalchemy import Connection

P = ParamSpec("P")
R = TypeVar("R")


class Repository:
    """Bound to one connection; built by the unit of work on first use."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class bound(Generic[P, R]):  # noqa: N801 - used like a decorator
    """A store function as a repository method (the connection comes first)."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[Concatenate[Connection, P], R]) -> None:
        self.function = function

    @overload
    def __get__(self, repository: None, owner: type[Any]) -> bound[P, R]: ...

    @overload
    def __get__(self, repository: Repository, owner: type[Any]) -> Callable[P, R]: ...

    def __get__(
        self, repository: Repository | None, owner: type[Any]
    ) -> bound[P, R] | Callable[P, R]:
        if repository is None:
            return self
        return partial(self.function, repository.connection)
