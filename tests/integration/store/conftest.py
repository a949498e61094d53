"""A PostgreSQL database of a test's own, for tests that change what all of it holds."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.conftest import PG_BASE, _unavailable, _with_database


@pytest.fixture
def own_pg() -> Iterator[str]:
    """A database of its own (partitions made and dropped here touch nobody else's)."""
    name = f"saveit_parts_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - the conftest decides
        _unavailable(str(exc))  # skips, or fails under CI=true
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _with_database(PG_BASE, name)
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
