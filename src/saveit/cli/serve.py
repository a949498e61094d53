"""Serving the API: ``saveit serve``, ``saveit seed`` and ``saveit demo``."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import typer
import uvicorn
import yaml
from pydantic import ValidationError

from saveit.accounts import StaffAccounts
from saveit.accounts.passwords import Passwords
from saveit.admin.setup import RestaurantSpec, apply_spec, parse_document
from saveit.api.access_log import with_redaction
from saveit.api.server_protocol import ServerProtocol
from saveit.cli.app import DEMO_FILE, Host, Port, Workers, app, migrate, settings_for
from saveit.config import Settings, load_settings
from saveit.observe import logs
from saveit.observe.metrics import MULTIPROC_ENV
from saveit.store.database import create_db_engine
from saveit.store.unit_of_work import Database

DEMO_OWNER = "owner@demo.example.com"
DEMO_PASSWORD = "saveit-demo"  # noqa: S105 - the demo's published login, on loopback only


def _run_server(settings: Settings, host: str, port: int, workers: int) -> None:
    metrics_dir = None
    if settings.metrics_enabled and workers > 1:
        # Each uvicorn worker writes its metric values here; /metrics adds them up.
        metrics_dir = tempfile.mkdtemp(prefix="saveit-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        uvicorn.run(
            "saveit.api.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            log_level="info",
            # JSON or text lines, personal data redacted, and an access log that hides
            # query-string secrets.
            log_config=with_redaction(
                logs.config(settings.resolved_log_format, settings.log_level)
            ),
            # Request heads are bounded by the protocol itself, not only by the app, and
            # a response leaves in one write (saveit.api.server_protocol). uvicorn only
            # calls the protocol "class": a partial carries our limit, and pickles for
            # --workers.
            http=cast(
                "type[asyncio.Protocol]",
                functools.partial(ServerProtocol, max_header_count=settings.max_header_count),
            ),
            h11_max_incomplete_event_size=settings.max_header_bytes,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Run the HTTP API. On the embedded default the schema is migrated first."""
    settings = settings_for(host)
    if settings.database_url is None:
        migrate()
    _run_server(settings, host, port, workers)


def load_spec(path: Path) -> RestaurantSpec:
    text = path.read_text(encoding="utf-8")
    raw: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    try:
        return parse_document(raw)
    except ValidationError as exc:
        typer.echo(f"{path}: not a valid restaurant document\n{exc}", err=True)
        raise typer.Exit(code=2) from exc


def seed_spec(spec: RestaurantSpec) -> bool:
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        return apply_spec(engine, spec)
    finally:
        engine.dispose()


@app.command()
def seed(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="YAML or JSON.")
    ],
) -> None:
    """Create the restaurant a YAML/JSON document describes (left alone if its slug exists)."""
    if load_settings().database_url is None:
        migrate()
    spec = load_spec(path)
    if seed_spec(spec):
        typer.echo(f"created restaurant '{spec.slug}'")
    else:
        typer.echo(f"restaurant '{spec.slug}' already exists; left unchanged")


def seed_demo_owner() -> bool:
    """Create the demo restaurant's owner account if absent; True when created."""
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        accounts = StaffAccounts(Database(engine), passwords=Passwords(), clock=_now)
        if accounts.exists(DEMO_OWNER):
            return False
        accounts.add(
            "demo", email=DEMO_OWNER, name="Demo Owner", role="owner", password=DEMO_PASSWORD
        )
        return True
    finally:
        engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Create the demo restaurant (slug ``demo``) if absent, print where to look, and serve."""
    settings = settings_for(host)
    migrate()
    created = seed_spec(load_spec(DEMO_FILE))
    owner = seed_demo_owner()
    base = f"http://{'localhost' if host in {'0.0.0.0', '::'} else host}:{port}"  # noqa: S104
    tomorrow = (date.today() + timedelta(days=1)).isoformat()  # noqa: DTZ011 - a hint only
    typer.echo(
        "\n".join(
            [
                f"demo restaurant {'created' if created else 'already present'}: slug 'demo'",
                f"  API docs:      {base}/docs",
                f"  restaurant:    {base}/v1/restaurants/demo",
                f"  availability:  {base}/v1/restaurants/demo/availability"
                f"?date={tomorrow}&party_size=2",
                f"  book:          POST {base}/v1/restaurants/demo/reservations",
                f"  web chat:      {base}/chat/demo",
                f"  staff console: {base}/console",
                f"    sign in as   {DEMO_OWNER} / {DEMO_PASSWORD}"
                + ("" if owner else "  (account already present: its password is as last set)"),
                "",
            ]
        )
    )
    _run_server(settings, host, port, workers)
