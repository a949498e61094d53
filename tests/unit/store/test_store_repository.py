"""A repository method is its store function with the repository's connection first."""

from __future__ import annotations

from typing import Any

from saveit.store.repository import Repository, bound


def pair(conn: Any, a: int, *, b: int = 2) -> tuple[Any, int, int]:
    return conn, a, b


class Pairs(Repository):
    pair = bound(pair)


def test_the_connection_comes_first_and_the_rest_is_passed_through() -> None:
    repo = Pairs("conn")  # type: ignore[arg-type]
    assert repo.pair(1) == ("conn", 1, 2)
    assert repo.pair(1, b=3) == ("conn", 1, 3)


def test_each_repository_binds_its_own_connection_once() -> None:
    first, second = Pairs("one"), Pairs("two")  # type: ignore[arg-type]
    assert first.pair is first.pair  # kept after the first use
    assert second.pair(5) == ("two", 5, 2)
    assert Pairs.pair.function is pair
