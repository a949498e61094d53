"""``saveit staff add|reset-password|remove``: console accounts from the command line.

A password is never taken from the command line's arguments (they end up in
shell history and in ``ps``): it is asked at a hidden prompt, or read from the
first line of standard input with ``--password-stdin`` (for scripts).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer

from saveit.accounts import ROLES, StaffAccounts
from saveit.accounts.passwords import Passwords
from saveit.cli.app import app, migrate
from saveit.config import load_settings
from saveit.domain import errors
from saveit.store.database import create_db_engine
from saveit.store.unit_of_work import Database

staff_app = typer.Typer(help="Staff accounts for the console.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")

Email = Annotated[str, typer.Option(help="The person's email (their sign-in).")]
FromStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _accounts() -> Iterator[StaffAccounts]:
    settings = load_settings()
    if settings.database_url is None:
        migrate()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        yield StaffAccounts(Database(engine), passwords=Passwords(), clock=_now)
    except errors.DomainError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            typer.echo("no password on standard input", err=True)
            raise typer.Exit(code=2)
        return line
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@staff_app.command("add")
def staff_add(
    restaurant: Annotated[str, typer.Option(help="Restaurant slug.")],
    email: Email,
    name: Annotated[str, typer.Option(help="The person's name, as the console shows it.")] = "",
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "host",
    password_stdin: FromStdin = False,
) -> None:
    """Give a person a role at a restaurant; a new account asks for its password."""
    if role not in ROLES:
        typer.echo(f"role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(code=2)
    with _accounts() as accounts:
        password = None if accounts.exists(email) else _password(password_stdin)
        created = accounts.add(
            restaurant, email=email, name=name or email.split("@")[0], role=role, password=password
        )
    state = "created" if created else "already had an account; their password is unchanged"
    typer.echo(f"{email}: {role} at '{restaurant}' ({state})")


@staff_app.command("reset-password")
def staff_reset_password(email: Email, password_stdin: FromStdin = False) -> None:
    """Set a new password (lifting a lockout) and sign the person out everywhere."""
    with _accounts() as accounts:
        if not accounts.exists(email):
            typer.echo("No staff account with this email", err=True)
            raise typer.Exit(code=2)
        accounts.reset_password(email, _password(password_stdin))
    typer.echo(f"{email}: password changed; every session ended")


@staff_app.command("remove")
def staff_remove(
    email: Email,
    restaurant: Annotated[
        str | None,
        typer.Option(help="Only from this restaurant (default: delete the account)."),
    ] = None,
) -> None:
    """Remove a person from one restaurant, or delete their account altogether."""
    with _accounts() as accounts:
        if restaurant is None:
            accounts.delete(email)
            typer.echo(f"{email}: account deleted, every session ended")
        else:
            accounts.remove_by_email(restaurant, email)
            typer.echo(f"{email}: removed from '{restaurant}', every session ended")
