"""Message retention: what guests wrote, and what providers sent us, is kept only so long.

A message older than the retention period loses its text, body and raw
payload; the row stays (channel, direction, status, author, times) so message
counts and delivery figures still add up. Work still in flight (an inbound not
yet answered, an outbound not yet sent or given up) is never touched. Rows are
done in batches of ``batch`` by id, each in its own short unit of work (the
caller's loop), so a first purge of a large table neither holds locks long nor
grows one transaction.

Link codes (the phone or email someone claimed, and its code's hash) serve for
ten minutes; past the retention period they are deleted.

A staff session ends after at most twelve hours (or when revoked); its row
(the token's hash, the account, when it was used) is deleted once it has been
over for ``ENDED_SESSIONS_KEPT``, long enough to answer "who was signed in last
week" and short enough that the table holds weeks, not years, of sign-ins.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, or_, select, update

from saveit.store.personal_data import ERASED_BODY
from saveit.store.repository import Repository, bound
from saveit.store.schema import channel_messages as m
from saveit.store.schema import link_codes, staff_sessions

ENDED_SESSIONS_KEPT = timedelta(days=30)


def purge_messages(conn: Connection, older_than: datetime, now: datetime, batch: int) -> int | None:
    """Blank up to ``batch`` finished messages created before ``older_than``; how
    many were (None: nothing was due any more)."""
    due = (m.c.redacted_at.is_(None), m.c.created_at < older_than, m.c.processed_at.is_not(None))
    # Through the (redacted_at, created_at) index: only what is still due.
    ids = list(conn.execute(select(m.c.id).where(*due).limit(batch)).scalars())
    if not ids:
        return None
    # Still due: another scheduler may have done these meanwhile.
    done = conn.execute(
        update(m)
        .where(m.c.id.in_(ids), *due)
        .values(
            text="",
            body=ERASED_BODY.new(None, ()),
            raw="",
            redacted_at=now,
            updated_at=now,
        )
    ).rowcount
    return int(done)


def purge_link_codes(conn: Connection, older_than: datetime) -> int:
    """Delete link codes that expired before ``older_than``; how many were."""
    return int(
        conn.execute(delete(link_codes).where(link_codes.c.expires_at < older_than)).rowcount
    )


def purge_staff_sessions(conn: Connection, now: datetime) -> int:
    """Delete staff sessions over (expired or revoked) for ``ENDED_SESSIONS_KEPT``."""
    before = now - ENDED_SESSIONS_KEPT
    s = staff_sessions.c
    ended = or_(s.expires_at < before, s.revoked_at < before)
    return int(conn.execute(delete(staff_sessions).where(ended)).rowcount)


class RetentionRepository(Repository):
    """Message texts, link codes and staff sessions past their time."""

    purge_messages = bound(purge_messages)
    purge_link_codes = bound(purge_link_codes)
    purge_staff_sessions = bound(purge_staff_sessions)
