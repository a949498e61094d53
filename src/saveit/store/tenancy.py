"""Row-level security: PostgreSQL itself keeps one restaurant's staff out of
another restaurant's rows, even where a query forgets its ``restaurant_id``.

Every tenant table carries a policy (migration ``0010``) that lets a row through
when the session's ``saveit.restaurant_id`` setting is unset or names the row's
restaurant. A request made with a restaurant's staff token runs inside
:func:`tenant_scope`; every transaction that request opens then carries that
restaurant in the setting, and a ``SELECT`` without a restaurant filter returns
that restaurant's rows and nothing else. Work that belongs to no one restaurant
— webhook routing, the outbox relay, notices, the scheduler, the admin token —
runs unscoped, as before.

Why a session setting written only when it changes, rather than ``SET LOCAL``
in every transaction: most transactions (every guest booking, every webhook)
are unscoped, and a round trip per transaction would cost the booking path a
seventh statement. Each pooled connection remembers the value it last set; a
transaction only pays for ``set_config`` when its scope differs from what the
connection already holds. A setting made inside a transaction that rolls back
is undone by PostgreSQL, so a rollback forgets what the connection was thought
to hold, and the next transaction sets it again.

The guard only binds a role that is neither superuser nor ``BYPASSRLS``:
production must connect as an ordinary role (the README's production
checklist says so, and ``saveit serve`` warns otherwise). The tables are
``FORCE ROW LEVEL SECURITY``, so owning them is no way around it.

SQLite has no row-level security; the embedded default is one restaurant's
own machine, where the application's filters are the only guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import Connection

SETTING = "saveit.restaurant_id"
_KNOWN = "saveit_tenant"  # key in each pooled connection's info: the value it holds
_tenant: ContextVar[int | None] = ContextVar("saveit_tenant", default=None)

# Tables that hold a restaurant's data without a restaurant_id of their own, and
# the parent whose policy they follow: (table, column, parent table).
CHILD_TABLES: tuple[tuple[str, str, str], ...] = (
    ("combination_tables", "combination_id", "combinations"),
    ("reservation_tables", "reservation_id", "reservations"),
    ("table_claims", "table_id", "dining_tables"),
)
# Bookkeeping that belongs to no restaurant: which events a consumer handled,
# provider statuses that arrived before we knew which message they belong to, and
# the marker an erasure holds (and removes) inside its own transaction on SQLite.
# Staff accounts and their sessions belong to a person, who may work for several
# restaurants, and are read at sign-in before any restaurant is known; what a
# person sees is governed by ``staff_memberships``, which is scoped.
UNSCOPED_TABLES: frozenset[str] = frozenset(
    {
        "processed_events",
        "early_statuses",
        "erasure_in_progress",
        "staff_accounts",
        "staff_sessions",
    }
)


def current_tenant() -> int | None:
    return _tenant.get()


def enter_tenant(restaurant_id: int) -> None:
    """Scope the rest of the current context (an HTTP request's task) to one
    restaurant. The request's own task ends with it, so nothing needs undoing."""
    _tenant.set(restaurant_id)


@contextmanager
def tenant_scope(restaurant_id: int | None) -> Iterator[None]:
    """Transactions opened inside see only ``restaurant_id``'s rows (None: all)."""
    token = _tenant.set(restaurant_id)
    try:
        yield
    finally:
        _tenant.reset(token)


def install(engine: Engine) -> None:
    """Carry the current scope into every transaction on a PostgreSQL engine."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info[_KNOWN] = ""  # a new session has the setting unset: unscoped

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        wanted = _tenant.get()
        value = "" if wanted is None else str(wanted)
        if connection.info.get(_KNOWN) != value:
            connection.exec_driver_sql(
                "SELECT set_config('saveit.restaurant_id', %(v)s, false)", {"v": value}
            )
            connection.info[_KNOWN] = value

    @event.listens_for(engine, "rollback")
    def _rolled_back(connection: Connection) -> None:
        # A set_config inside the aborted transaction was undone with it. An
        # invalidated connection is being replaced: its successor starts unscoped.
        if not connection.invalidated:
            connection.info.pop(_KNOWN, None)


def bypasses_row_security(engine: Engine) -> bool:
    """Whether the role we connect as ignores the policies (superuser or BYPASSRLS)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).scalar()
    return bool(row)
