"""The one way to the database: a :class:`Database` built once by the composition
root, and units of work opened from it.

Usage::

    db = Database(engine, replica=replica_reads)      # bootstrap only

    with db.unit_of_work() as uow:                    # one write transaction
        guest = uow.guests.find_or_create(restaurant_id, details, now)
        if not uow.reservations.claim(reservation_id, table_ids, span):
            ...
        uow.emit(restaurant_id=rid, type_="waitlist.joined", payload={...}, at=now)
        uow.after_commit(lambda: cache.forget(slug))  # only if the commit succeeds
        with uow.savepoint():                         # a nested transaction: an
            ...                                       # IntegrityError undoes only it
    # commits on a clean exit, rolls back when the block raises

    with db.reading() as r:                           # read-only, the same repositories
        view = r.reservations.view_by_code(code)

    with db.tolerant_reading() as r:                  # may lag: a healthy replica
        views = r.reservations.views_between(rid, lo, hi)

    restaurant = cache.get(uow, slug)                 # RestaurantCache takes a unit
                                                      # of work, a reader or a repository

A callback registered with ``after_commit`` that raises is logged, never raised:
the commit stands. Database failures the layers above tell apart (unreachable,
a transient deadlock worth a retry) are named in :mod:`saveit.store.errors`.

Why a unit of work rather than ``engine.begin()`` at each call site: a use case
states its transaction once, reaches every table through typed repositories
bound to that transaction, and SQL (and SQLAlchemy) stays in ``saveit.store``.
It adds no statement: entering is ``engine.begin()``; repositories are built on
first use and only hold the connection. Row-level security
(:mod:`saveit.store.tenancy`) applies unchanged: the scope is carried into each
transaction by the engine's own ``begin`` listener.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from saveit.store import database, tenancy
from saveit.store.analytics import AnalyticsRepository
from saveit.store.answered import AnswerRepository
from saveit.store.audit import AuditRepository
from saveit.store.channel_accounts import AccountRepository
from saveit.store.conversations import ConversationRepository
from saveit.store.erasure import ErasureRepository
from saveit.store.first_contact import FirstContactRepository
from saveit.store.guest_book import GuestBookRepository
from saveit.store.guest_export import ExportRepository
from saveit.store.guests import GuestRepository
from saveit.store.holds import HoldRepository
from saveit.store.idempotency import IdempotencyRepository
from saveit.store.inbox_overview import InboxOverviewRepository
from saveit.store.messages import MessageRepository
from saveit.store.notifications import NotificationRepository
from saveit.store.outbox import OutboxRepository, doorbell, emit, take_written
from saveit.store.processed import ProcessedRepository
from saveit.store.reservations import ReservationRepository
from saveit.store.restaurants import RestaurantRepository
from saveit.store.retention import RetentionRepository
from saveit.store.staff_accounts import StaffAccountRepository
from saveit.store.staff_sessions import StaffSessionRepository
from saveit.store.surveys import SurveyRepository
from saveit.store.tokens import TokenRepository
from saveit.store.waitlist import WaitlistRepository

if TYPE_CHECKING:
    from saveit.store.replica import ReplicaReads

log = logging.getLogger(__name__)

_PING = text("SELECT 1")


class Repositories:
    """Every repository, bound to one connection and built on first use."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    @cached_property
    def reservations(self) -> ReservationRepository:
        return ReservationRepository(self.connection)

    @cached_property
    def guests(self) -> GuestRepository:
        return GuestRepository(self.connection)

    @cached_property
    def restaurants(self) -> RestaurantRepository:
        return RestaurantRepository(self.connection)

    @cached_property
    def messages(self) -> MessageRepository:
        return MessageRepository(self.connection)

    @cached_property
    def conversations(self) -> ConversationRepository:
        return ConversationRepository(self.connection)

    @cached_property
    def answers(self) -> AnswerRepository:
        return AnswerRepository(self.connection)

    @cached_property
    def first_contacts(self) -> FirstContactRepository:
        return FirstContactRepository(self.connection)

    @cached_property
    def accounts(self) -> AccountRepository:
        return AccountRepository(self.connection)

    @cached_property
    def notifications(self) -> NotificationRepository:
        return NotificationRepository(self.connection)

    @cached_property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.connection)

    @cached_property
    def processed(self) -> ProcessedRepository:
        return ProcessedRepository(self.connection)

    @cached_property
    def tokens(self) -> TokenRepository:
        return TokenRepository(self.connection)

    @cached_property
    def staff(self) -> StaffAccountRepository:
        return StaffAccountRepository(self.connection)

    @cached_property
    def staff_sessions(self) -> StaffSessionRepository:
        return StaffSessionRepository(self.connection)

    @cached_property
    def waitlist(self) -> WaitlistRepository:
        return WaitlistRepository(self.connection)

    @cached_property
    def holds(self) -> HoldRepository:
        return HoldRepository(self.connection)

    @cached_property
    def audit(self) -> AuditRepository:
        return AuditRepository(self.connection)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.connection)

    @cached_property
    def erasure(self) -> ErasureRepository:
        return ErasureRepository(self.connection)

    @cached_property
    def retention(self) -> RetentionRepository:
        return RetentionRepository(self.connection)

    @cached_property
    def exports(self) -> ExportRepository:
        return ExportRepository(self.connection)

    @cached_property
    def analytics(self) -> AnalyticsRepository:
        return AnalyticsRepository(self.connection)

    @cached_property
    def surveys(self) -> SurveyRepository:
        return SurveyRepository(self.connection)

    @cached_property
    def guest_book(self) -> GuestBookRepository:
        return GuestBookRepository(self.connection)

    @cached_property
    def inbox_overview(self) -> InboxOverviewRepository:
        return InboxOverviewRepository(self.connection)


class Reader(Repositories):
    """The repositories on a read-only connection (see :meth:`Database.reading`)."""


class UnitOfWork(Repositories):
    """One write transaction: commits when the ``with`` block ends cleanly, rolls
    back when it raises, then runs what :meth:`after_commit` registered."""

    def __init__(self, engine: Engine, *, autocommit: bool = False) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._after: list[Callable[[], object]] | None = None

    def __enter__(self) -> UnitOfWork:
        self._begin: AbstractContextManager[Connection]
        if self._autocommit:
            self._begin = database.autocommitting(self._engine)  # Database.on_its_own
        else:
            self._begin = self._engine.begin()
        self.connection = self._begin.__enter__()
        take_written(self.connection)  # a rolled-back transaction's mark, left on the pool
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Read only from a healthy transaction: after a failure the connection may be
        # invalidated, and asking it anything would replace the error being raised.
        wrote_events = exc_type is None and take_written(self.connection)
        self._begin.__exit__(exc_type, exc, tb)  # commit or roll back; a failed commit raises
        if exc_type is None and wrote_events and (ring := doorbell(self._engine)) is not None:
            try:
                ring()  # the relay publishes now rather than at its next poll
            except Exception:
                log.exception("unit of work: ringing the outbox doorbell failed")
        if exc_type is None and self._after is not None:
            for callback in self._after:
                try:
                    callback()
                except Exception:
                    log.exception("unit of work: an after-commit callback failed")

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the transaction has committed (never after a
        rollback). A callback that raises is logged; the commit stands."""
        if self._after is None:
            self._after = []
        self._after.append(callback)

    def emit(self, *, restaurant_id: int, type_: str, payload: dict[str, Any], at: datetime) -> str:
        """Write an event to the outbox in this transaction; returns its id."""
        return emit(
            self.connection, restaurant_id=restaurant_id, type_=type_, payload=payload, at=at
        )

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: an error inside undoes only what it did, and the
        unit of work carries on (the claim-and-retry pattern)."""
        return self.connection.begin_nested()


class DatabaseLike(Protocol):
    """What holds an engine: a :class:`Database`, or an ``Engine`` itself (whose
    ``.engine`` is itself) while the composition root still hands out engines."""

    @property
    def engine(self) -> Engine: ...


def database_of(found: Database | DatabaseLike) -> Database:
    """``found`` as a :class:`Database` (wrapping a bare engine)."""
    return found if isinstance(found, Database) else Database(found.engine)


class Database:
    """The engine (and the optional read replica) behind every unit of work."""

    def __init__(self, engine: Engine, *, replica: ReplicaReads | None = None) -> None:
        self.engine = engine
        self.replica = replica
        self.dialect: str = engine.dialect.name
        self.is_postgres = self.dialect == "postgresql"

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def on_its_own(self) -> UnitOfWork | None:
        """A unit of work whose every statement is its own transaction (PostgreSQL's
        autocommit), None on SQLite. It saves the ``BEGIN`` and ``COMMIT`` round
        trips, so it is only for a write that one statement does whole or not at all
        (``store.booked_at_once``: a statement that cannot finish undoes itself by
        raising). ``after_commit`` callbacks and the outbox doorbell run as in
        :meth:`unit_of_work`."""
        return UnitOfWork(self.engine, autocommit=True) if self.is_postgres else None

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A read-only connection on the primary (:func:`saveit.store.database.reading`:
        autocommit on PostgreSQL, a deferred ``BEGIN`` on SQLite): for reads that
        must see every committed write."""
        with database.reading(self.engine) as conn:
            yield Reader(conn)

    @contextmanager
    def tolerant_reading(self, *, caught_up_to: str | None = None) -> Iterator[Reader]:
        """A read that may lag a few seconds behind the primary: the replica while
        it keeps up (:mod:`saveit.store.replica`), else the primary."""
        if self.replica is None:
            with database.reading(self.engine) as conn:
                yield Reader(conn)
            return
        with self.replica.reading(caught_up_to=caught_up_to) as conn:
            yield Reader(conn)

    def primary_position(self) -> str | None:
        """See :meth:`saveit.store.replica.ReplicaReads.primary_position`."""
        return None if self.replica is None else self.replica.primary_position()

    def ping(self) -> None:
        """One round trip; raises when the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(_PING)

    def bypasses_row_security(self) -> bool:
        return tenancy.bypasses_row_security(self.engine)

    def listening_connection(self, application_name: str) -> Any:
        """A PostgreSQL connection of its own, outside the pool and in autocommit,
        for ``LISTEN`` (held for the process's life)."""
        import psycopg

        args, params = self.engine.dialect.create_connect_args(self.engine.url)
        params.setdefault("connect_timeout", 5)
        params.setdefault("application_name", application_name)
        return psycopg.connect(*args, **params, autocommit=True)

    def dispose(self) -> None:
        if self.replica is not None:
            self.replica.close()
        self.engine.dispose()
