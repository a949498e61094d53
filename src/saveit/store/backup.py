"""Whole-database backups: ``saveit db backup FILE`` and ``saveit db restore FILE``.

PostgreSQL: ``pg_dump`` in its custom format (compressed, restorable table by
table) and ``pg_restore`` — the server's own tools, which know partitions,
triggers, row-level security and sequences; their version should match the
server's. SQLite: the online backup API, which copies a consistent snapshot of
a live database page by page while the app keeps writing.

A restore replaces what the target database holds (PostgreSQL: ``--clean
--if-exists``, all in one transaction, so a failed restore leaves it as it was).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from saveit.config import normalise_database_url


class BackupFailed(RuntimeError):
    """The dump or restore tool failed; the message carries its error output."""


def _libpq_url(url: str) -> str:
    """The SQLAlchemy URL as the ``postgresql://`` form libpq tools understand."""
    parsed = make_url(normalise_database_url(url)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupFailed("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} is not installed (PostgreSQL client tools)")
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupFailed(done.stderr.strip() or f"{args[0]} exited {done.returncode}")


def backup(url: str, target: Path) -> None:
    """Write a backup of the database at ``url`` to ``target``."""
    url = normalise_database_url(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    # Row-level security binds even the tables' owner (FORCE, saveit.store.tenancy):
    # with it left on and no restaurant in scope, every policy lets every row through,
    # whereas pg_dump's default (row_security off) would refuse to read the tables.
    _run(
        [
            _tool("pg_dump"),
            "--format=custom",
            "--enable-row-security",
            f"--file={target}",
            _libpq_url(url),
        ]
    )


def restore(url: str, source: Path) -> None:
    """Replace the database at ``url`` with the backup in ``source``."""
    if not source.is_file():
        raise BackupFailed(f"no backup at {source}")
    url = normalise_database_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(path, timeout=30)
        try:
            with live:
                backup_db.backup(live)
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(f"{source} is not a SQLite backup: {exc}") from exc
        finally:
            live.close()
            backup_db.close()
        return
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--enable-row-security",  # as in backup(): the policies bind the owner too
            f"--dbname={_libpq_url(url)}",
            str(source),
        ]
    )
