"""The ``saveit`` command's groups and what its commands share: settings that
refuse to expose the development secret, and the migration the embedded
default runs by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from saveit.bootstrap import build_secret_box
from saveit.config import ExposedDevelopmentSecret, Settings, load_settings
from saveit.config import refuse_exposed_development_secret as _refuse
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade

app = typer.Typer(help="SaveIt restaurant reservations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
token_app = typer.Typer(help="Staff bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
secrets_app = typer.Typer(help="Provider secrets sealed at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
guest_app = typer.Typer(help="A guest's data: export and erasure.", no_args_is_help=True)
app.add_typer(guest_app, name="guest")

DEMO_FILE = Path(__file__).parent.parent / "demo.yaml"

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)]
Workers = Annotated[int, typer.Option(help="API worker processes.", min=1, max=64)]


def settings_for(bind_host: str | None = None) -> Settings:
    """The settings, unless they would expose the development secret (exit 2)."""
    settings = load_settings()
    try:
        _refuse(settings, bind_host=bind_host)
    except ExposedDevelopmentSecret as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc
    return settings


def migrate() -> None:
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        upgrade(engine, box=build_secret_box(settings))
    finally:
        engine.dispose()
