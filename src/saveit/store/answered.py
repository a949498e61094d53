"""A bot's answer to a guest's message written as one statement that is its own
transaction: the conversation's new state, the message marked answered, the reply
queued (leased to the answering process) and the event for live screens.

Why: after the dialogue, a turn was a transaction of six round trips (``BEGIN``,
the four writes, ``COMMIT``), and each one on a busy worker also waits for the
interpreter lock (``bench/README.md``). Here the writes read one another's results,
so the statement runs in autocommit (``Database.on_its_own``): one round trip.

The same outcomes as the transaction's, in the same order: the state is written
only if nobody wrote it since it was read (its version); the message is marked
answered only then, and only if no other worker answered it after this one's
lease lapsed; the reply and the event only then. So when the state lost a race
nothing at all is written (the caller reads the conversation again, in the
transactional path), and when another worker had answered the message only the
state is, as the transaction committed it.

PostgreSQL only, and a turn with at most one reply and no hand-off to staff (nearly
all of them); :func:`answered_at_once` answers None otherwise, before any round
trip, and the caller takes the transaction.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, bindparam, insert, select, true

from saveit.store.conversations import SAVE_TURN, Conversation, turn_params
from saveit.store.message_rows import StoredMessage, stored
from saveit.store.messages import FINISH_INBOUND
from saveit.store.outbox import event_params, event_written_if, mark_written
from saveit.store.repository import Repository, bound
from saveit.store.schema import channel_messages as m
from saveit.store.tenancy import current_tenant


class Answered(NamedTuple):
    """What :func:`answered_at_once` wrote, the state having been saved: whether the
    message was still this worker's to answer, and the reply it queued."""

    finished: bool
    reply: StoredMessage | None


def _values(table: Any, prefix: str, columns: list[str]) -> Select[Any]:
    """A row of parameters ``prefix + column``, typed as the table's columns."""
    return select(*(bindparam(prefix + c, type_=table.c[c].type) for c in columns))


@cache
def _statement(columns: tuple[str, ...]) -> Any:
    """Built once per shape: ``columns`` of the reply's row, none for no reply."""
    saved = SAVE_TURN.returning(SAVE_TURN.table.c.id).cte("saved")
    finished = FINISH_INBOUND.where(select(saved.c.id).exists()).returning(m.c.id).cte("finished")
    if_finished = select(finished.c.id).exists()
    evented = event_written_if(if_finished, "evented")
    joined = saved.outerjoin(finished, true()).outerjoin(evented, true())
    picked: list[Any] = [finished.c.id.label("finished_id")]
    if columns:
        queued = (
            insert(m)
            .from_select(
                list(columns),
                _values(m, "out_", list(columns)).where(if_finished),
                include_defaults=False,
            )
            .returning(*m.c)
            .cte("queued")
        )
        joined = joined.outerjoin(queued, true())
        picked += list(queued.c)
    # the event's id is read so that the statement names (and renders) its WITH
    return select(*picked, evented.c.id.label("event_row_id")).select_from(joined)


def answered_at_once(
    conn: Connection,
    current: Conversation,
    *,
    state: dict[str, Any],
    offered: list[dict[str, str]],
    language: str | None,
    now: datetime,
    message_id: int,
    note: str | None,
    reply: dict[str, Any] | None,
    event: dict[str, Any],
) -> Answered | None:
    """Write a turn's answer on ``conn`` in autocommit; see the module docstring.
    ``reply``: the queued reply's row (``messages.outbound_row`` with its lease),
    ``event``: the event's (``outbox.event_row``). None: the state lost a race (or
    this is not PostgreSQL), and nothing was written."""
    if conn.dialect.name != "postgresql" or current_tenant() is not None:
        return None
    columns = tuple(sorted(reply)) if reply else ()
    params: dict[str, Any] = {
        **turn_params(current, state, offered, language, now),
        "message": message_id,
        "note": note,
        **event_params(event),
        **{f"out_{k}": v for k, v in (reply or {}).items()},
    }
    row = conn.execute(_statement(columns), params).first()
    if row is None:
        return None
    if row.finished_id is None:
        return Answered(finished=False, reply=None)
    mark_written(conn)
    return Answered(finished=True, reply=stored(row) if columns else None)


class AnswerRepository(Repository):
    """A bot's answer to a guest's message, written whole."""

    answered_at_once = bound(answered_at_once)
