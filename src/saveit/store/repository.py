"""The base of the store's repositories: a store module's functions, bound to one
connection (a unit of work's or a reader's, see :mod:`saveit.store.unit_of_work`).

A store function keeps the connection as its first parameter; its repository
lists it once (``view_by_code = bound(view_by_code)``), and
``uow.reservations.view_by_code(code)`` calls it with the unit of work's
connection. The signature, minus the connection, is what type checkers see.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

from sqlalchemy import Connection

P = ParamSpec("P")
R = TypeVar("R")


class Repository:
    """Bound to one connection; built by the unit of work on first use."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class bound(Generic[P, R]):  # noqa: N801 - used like a decorator
    """A store function as a repository method (the connection comes first).

    The first use on a repository binds the function to its connection and keeps
    the result in the repository's ``__dict__``, where later uses find it without
    calling back here: on the booking path a repository method costs what a
    plain method does."""

    __slots__ = ("function", "name")

    def __init__(self, function: Callable[Concatenate[Connection, P], R]) -> None:
        self.function = function
        self.name = function.__name__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, repository: None, owner: type[Any]) -> bound[P, R]: ...

    @overload
    def __get__(self, repository: Repository, owner: type[Any]) -> Callable[P, R]: ...

    def __get__(
        self, repository: Repository | None, owner: type[Any]
    ) -> bound[P, R] | Callable[P, R]:
        if repository is None:
            return self
        method = cast(Callable[P, R], MethodType(self.function, repository.connection))
        repository.__dict__[self.name] = method
        return method
