"""The operator's data commands: the schema (``saveit db``), a guest's data
(``saveit guest``), provider secrets (``saveit secrets``) and staff tokens
(``saveit token``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from saveit.bootstrap import build_secret_box
from saveit.cli.app import db_app, guest_app, migrate, secrets_app, token_app
from saveit.config import load_settings
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.privacy import GuestPrivacy
from saveit.store import tokens
from saveit.store.database import create_db_engine
from saveit.store.secret_box import SecretBox, SecretsUnreadable
from saveit.store.unit_of_work import Database


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to SAVEIT_DATABASE_URL (or the embedded SQLite file)."""
    migrate()
    typer.echo("database is at the latest schema")


@db_app.command("purge")
def db_purge(
    days: Annotated[
        int | None,
        typer.Option(help="Keep this many days (default SAVEIT_MESSAGE_RETENTION_DAYS).", min=1),
    ] = None,
) -> None:
    """Blank message texts and raw provider payloads older than the retention period."""
    with _privacy(days) as privacy:
        purged = privacy.purge()
    typer.echo(
        f"purged {purged.messages} messages and {purged.link_codes} link codes"
        f" older than {privacy.retention.days} days"
    )


@contextmanager
def _privacy(days: int | None = None) -> Iterator[GuestPrivacy]:
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        yield GuestPrivacy(
            engine,
            clock=lambda: datetime.now(UTC),
            retention_days=days or settings.message_retention_days,
        )
    finally:
        engine.dispose()


Slug = Annotated[str, typer.Option("--restaurant", help="Restaurant slug.")]
GuestId = Annotated[int, typer.Argument(help="The guest's id.", min=1)]


@guest_app.command("export")
def guest_export(
    guest_id: GuestId,
    restaurant: Slug,
    out: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Write here instead of printing.")
    ] = None,
) -> None:
    """Everything stored about one guest, as one JSON document."""
    try:
        with _privacy() as privacy:
            doc = privacy.export(restaurant, guest_id)
    except errors.NotFound as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(code=2) from exc
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"guest {guest_id} exported to {out}")


@guest_app.command("erase")
def guest_erase(
    guest_id: GuestId,
    restaurant: Slug,
    by: Annotated[str, typer.Option(help="Who asks for it, for the audit log.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Pseudonymise one guest's personal data everywhere (cannot be undone)."""
    if not yes:
        typer.confirm(
            f"Erase guest {guest_id} of '{restaurant}'? This cannot be undone", abort=True
        )
    try:
        with _privacy() as privacy:
            done = privacy.erase(restaurant, guest_id, Actor("staff", by[:48], "cli"))
    except errors.NotFound as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(json.dumps(done.to_json()))


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="Backup file to write.")]) -> None:
    """Back up SAVEIT_DATABASE_URL (pg_dump custom format) or the embedded SQLite file."""
    from saveit.store.backup import BackupFailed, backup

    try:
        backup(load_settings().resolved_database_url, file)
    except BackupFailed as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"backed up to {file}")


@db_app.command("restore")
def db_restore(file: Annotated[Path, typer.Argument(help="Backup file to restore.")]) -> None:
    """Replace the database's contents with a backup made by `saveit db backup`."""
    from saveit.store.backup import BackupFailed, restore

    try:
        restore(load_settings().resolved_database_url, file)
    except BackupFailed as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored from {file}")


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-seal every stored provider secret under the first of SAVEIT_ENCRYPTION_KEYS
    (plain ones too); then the older keys can be removed from the list."""
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with Database(engine).unit_of_work() as uow:
            count = uow.accounts.reseal_all(build_secret_box(settings))
    except SecretsUnreadable as exc:
        typer.echo(f"secrets rotate: {exc}; nothing was changed", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    typer.echo(f"re-sealed the secrets of {count} channel account(s) under the newest key")


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh key to put first in SAVEIT_ENCRYPTION_KEYS."""
    typer.echo(SecretBox.new_key())


@token_app.command("create")
def token_create(
    restaurant: Annotated[str, typer.Option(help="Restaurant slug.")],
    role: Annotated[str, typer.Option(help="host, manager or owner.")] = "host",
    name: Annotated[str, typer.Option(help="Who holds it, for the audit log.")] = "staff",
    display_name: Annotated[
        str | None, typer.Option(help="What guests see when its holder writes to them.")
    ] = None,
    ttl_days: Annotated[
        int | None, typer.Option(help="Lifetime (default SAVEIT_STAFF_TOKEN_TTL_DAYS).", min=1)
    ] = None,
) -> None:
    """Issue a staff token for one restaurant and print it (it is shown only once)."""
    if role not in tokens.ROLES:
        typer.echo(f"role must be one of {', '.join(tokens.ROLES)}", err=True)
        raise typer.Exit(code=2)
    settings = load_settings()
    days = ttl_days or settings.staff_token_ttl_days
    if days > settings.staff_token_max_ttl_days:
        typer.echo(f"--ttl-days may be at most {settings.staff_token_max_ttl_days}", err=True)
        raise typer.Exit(code=2)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with Database(engine).unit_of_work() as uow:
            token = uow.tokens.issue(
                uow.restaurants.id_of(restaurant),
                role=role,
                name=name,
                display_name=display_name,
                now=datetime.now(UTC),
                ttl=timedelta(days=days),
            )
    except errors.NotFound as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()
    typer.echo(token)
