"""The ``saveit`` command: run the API, migrate, seed and demo.

Settings come from ``SAVEIT_*`` variables exactly as for the server, so a
command run in the same environment talks to the same database.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import typer
import uvicorn
import yaml
from prometheus_client import start_http_server
from pydantic import ValidationError

from saveit.analytics import command as analytics_command
from saveit.analytics.runner import start_analytics
from saveit.api.access_log import with_redaction
from saveit.api.header_limits import BoundedHttpToolsProtocol
from saveit.bootstrap import build, build_secret_box, freeze_startup_heap
from saveit.channels.workers import ChannelWorkers
from saveit.config import ExposedDevelopmentSecret, Settings, load_settings
from saveit.config import refuse_exposed_development_secret as _refuse
from saveit.domain import errors
from saveit.domain.commands import Actor
from saveit.notify import start_notifications
from saveit.observe import auditor, logs
from saveit.observe.gauges import scrape_gauges
from saveit.observe.metrics import MULTIPROC_ENV, Exposition
from saveit.privacy import GuestPrivacy
from saveit.restaurant_setup import RestaurantSpec, apply_spec, parse_document
from saveit.store import restaurants as restaurant_store
from saveit.store import tokens
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.secret_box import SecretBox, SecretsUnreadable
from saveit.waitlist.runner import start_waitlist

app = typer.Typer(help="SaveIt restaurant reservations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
token_app = typer.Typer(help="Staff bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
secrets_app = typer.Typer(help="Provider secrets sealed at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
guest_app = typer.Typer(help="A guest's data: export and erasure.", no_args_is_help=True)
app.add_typer(guest_app, name="guest")
app.command("report")(analytics_command.report)

DEMO_FILE = Path(__file__).with_name("demo.yaml")

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)]
Workers = Annotated[int, typer.Option(help="API worker processes.", min=1, max=64)]


def _settings_for(bind_host: str | None = None) -> Settings:
    """The settings, unless they would expose the development secret (exit 2)."""
    settings = load_settings()
    try:
        _refuse(settings, bind_host=bind_host)
    except ExposedDevelopmentSecret as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc
    return settings


def _migrate() -> None:
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        upgrade(engine, box=build_secret_box(settings))
    finally:
        engine.dispose()


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-seal every stored provider secret under the first of SAVEIT_ENCRYPTION_KEYS
    (plain ones too); then the older keys can be removed from the list."""
    from saveit.store.channel_accounts import reseal_all

    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            count = reseal_all(conn, build_secret_box(settings))
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
            # Request heads are bounded by the protocol itself, not only by the app.
            # uvicorn only calls the protocol "class": a partial carries our limit, and
            # pickles for --workers.
            http=cast(
                "type[asyncio.Protocol]",
                functools.partial(
                    BoundedHttpToolsProtocol, max_header_count=settings.max_header_count
                ),
            ),
            h11_max_incomplete_event_size=settings.max_header_bytes,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to SAVEIT_DATABASE_URL (or the embedded SQLite file)."""
    _migrate()
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


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Run the HTTP API. On the embedded default the schema is migrated first."""
    settings = _settings_for(host)
    if settings.database_url is None:
        _migrate()
    _run_server(settings, host, port, workers)


def _load_spec(path: Path) -> RestaurantSpec:
    text = path.read_text(encoding="utf-8")
    raw: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    try:
        return parse_document(raw)
    except ValidationError as exc:
        typer.echo(f"{path}: not a valid restaurant document\n{exc}", err=True)
        raise typer.Exit(code=2) from exc


def _seed(spec: RestaurantSpec) -> bool:
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
        _migrate()
    spec = _load_spec(path)
    if _seed(spec):
        typer.echo(f"created restaurant '{spec.slug}'")
    else:
        typer.echo(f"restaurant '{spec.slug}' already exists; left unchanged")


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Create the demo restaurant (slug ``demo``) if absent, print where to look, and serve."""
    settings = _settings_for(host)
    _migrate()
    created = _seed(_load_spec(DEMO_FILE))
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
                "",
            ]
        )
    )
    _run_server(settings, host, port, workers)


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
        with engine.begin() as conn:
            restaurant_id = restaurant_store.id_of(conn, restaurant)
            token = tokens.issue(
                conn,
                restaurant_id,
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


@app.command()
def worker() -> None:
    """Publish committed outbox events to the bus, answer stored guest messages and
    deliver queued ones, notify guests, send reminders and mark no-shows, until
    SIGTERM/SIGINT (production mode)."""
    settings = _settings_for()
    logs.configure(settings.resolved_log_format, settings.log_level)
    container = build(settings, migrate=settings.database_url is None)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"worker: relaying the outbox to {type(container.bus).__name__}")
    metrics_server = None
    if settings.metrics_enabled and settings.worker_metrics_port:
        exposition = Exposition(scrape_gauges(container.engine, container.bus))
        try:
            metrics_server, _ = start_http_server(
                settings.worker_metrics_port,
                addr=settings.worker_metrics_host,
                registry=exposition.registry,
            )
        except OSError as exc:  # another worker on this host holds the port: work on
            logging.getLogger("saveit.worker").error(
                "worker metrics: cannot listen on %s:%d (%s); set SAVEIT_WORKER_METRICS_PORT",
                settings.worker_metrics_host,
                settings.worker_metrics_port,
                exc,
            )
    auditing = auditor.start(container.engine, stop, settings.audit_interval_s)
    workers = None
    if container.gateway is not None:
        workers = ChannelWorkers(
            container.gateway,
            poll_s=settings.channel_worker_poll_s,
            nice=settings.channel_workers_nice,
        )
        workers.start(stop)
    notify = None
    if container.scheduler is not None:
        notify = start_notifications(
            container.bus,
            container.notifier,
            container.scheduler,
            stop,
            interval_s=settings.scheduler_interval_s,
            reclaim_s=settings.notify_reclaim_s,
        )
    waiting = None
    if container.waitlist is not None:
        waiting = start_waitlist(
            container.bus,
            container.waitlist,
            container.notifier,
            stop,
            interval_s=settings.waitlist_sweep_s,
        )
    if container.analytics is not None:
        start_analytics(container.bus, container.analytics, stop)  # the figures' counters
    freeze_startup_heap()
    try:
        container.relay.run(stop)
    finally:
        if waiting is not None:
            waiting.join()
        if metrics_server is not None:
            metrics_server.shutdown()
        if auditing is not None:
            auditing.join(10)
        if notify is not None:
            notify.join()
        if workers is not None:
            workers.join()
        container.close()


@app.command("audit")
def audit_bookings() -> None:
    """Check that no two active bookings hold a table at overlapping times, buffers
    included; print each overlapping pair and exit 1 if any is found."""
    settings = load_settings()
    logs.configure(settings.resolved_log_format, settings.log_level)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        found = auditor.audit(engine)
    finally:
        engine.dispose()
    if found:
        typer.echo(f"audit: {len(found)} double booking(s) found", err=True)
        raise typer.Exit(code=1)
    typer.echo("audit: no double bookings")


@app.command()
def smtp(
    host: Annotated[
        str | None, typer.Option(help="Interface (default SAVEIT_SMTP_INBOUND_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default SAVEIT_SMTP_INBOUND_PORT).", min=1, max=65535)
    ] = None,
) -> None:
    """Receive guests' email for every restaurant's address over SMTP, until SIGTERM/SIGINT.

    A message is stored before the sending server gets its 250, and answered by
    the channel workers (in this process and in any API process or worker)."""
    from saveit.channels.email_inbound import serve

    settings = _settings_for(host or load_settings().smtp_inbound_host)
    container = build(settings, migrate=settings.database_url is None)
    gateway = container.gateway
    assert gateway is not None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    bound_host = host or settings.smtp_inbound_host
    bound_port = port or settings.smtp_inbound_port
    server = serve(gateway, settings, host=bound_host, port=bound_port)
    workers = ChannelWorkers(gateway, poll_s=settings.channel_worker_poll_s)
    workers.start(stop)
    typer.echo(f"smtp: receiving guest email on {bound_host}:{bound_port}")
    try:
        stop.wait()
    finally:
        server.stop()
        workers.join()
        container.close()


PARSE_KEYS = ("intent", "lang", "date", "time", "party_size", "name")


@app.command("parse")
def parse_text(
    text: Annotated[str, typer.Argument(help="A guest message, as typed.")],
    now: Annotated[
        str | None, typer.Option(help="ISO-8601 moment to read it at (default: now).")
    ] = None,
    tz: Annotated[str, typer.Option(help="The restaurant's IANA time zone.")] = "Europe/Madrid",
    lang: Annotated[
        str | None, typer.Option(help="Language remembered for the guest: es or en.")
    ] = None,
) -> None:
    """Print what the bot reads in one message, as one JSON object. No database needed."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from saveit.conversation.nlu import parse

    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        typer.echo(f"unknown time zone: {tz}", err=True)
        raise typer.Exit(code=2) from exc
    if lang is not None and lang not in {"es", "en"}:
        typer.echo("--lang must be es or en", err=True)
        raise typer.Exit(code=2)
    if now is None:
        moment = datetime.now(zone)
    else:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError as exc:
            typer.echo(f"--now is not ISO-8601: {now}", err=True)
            raise typer.Exit(code=2) from exc
        # A moment without an offset is a wall-clock time at the restaurant.
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    result = parse(text, now=moment, lang_hint=lang).to_json()
    shown = {key: result[key] for key in PARSE_KEYS}
    if result["ambiguous"] is not None:  # a day or time left open: the bot asks
        shown["ambiguous"] = result["ambiguous"]
    typer.echo(json.dumps(shown, ensure_ascii=False))


@app.command("eval")
def eval_parser(
    file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, readable=True, help="JSONL set (default: the shipped one)."
        ),
    ] = None,
    dates_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="JSONL set of dates and times (default: the shipped held-out one).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="List every miss.")] = False,
) -> None:
    """Score the message parser; exit 1 below target.

    By default both shipped sets: the general one (every slot, then dates and
    times per language) and the held-out dates and times, reported apart with
    the share of confident wrong answers. ``--file`` or ``--dates-file`` scores
    only that file."""
    from saveit.conversation.evaluate import evaluate, format_report, load_cases
    from saveit.conversation.evaluate_dates import (
        evaluate_dates,
        format_date_report,
        from_general,
        load_date_cases,
    )

    passed = True
    if dates_file is None or file is not None:
        cases = load_cases(file)
        report = evaluate(cases)
        typer.echo(format_report(report, verbose=verbose))
        general = evaluate_dates(from_general(cases), "general set")
        typer.echo(format_date_report(general))
        passed = report.passed
    if dates_file is not None or file is None:
        name = dates_file.name if dates_file is not None else "held-out set"
        held_out = evaluate_dates(load_date_cases(dates_file), name)
        typer.echo(format_date_report(held_out, verbose=verbose))
        passed = passed and held_out.passed
    if not passed:
        raise typer.Exit(code=1)


@app.command()
def chat(
    restaurant: Annotated[str, typer.Option(help="Restaurant slug.")] = "demo",
    channel: Annotated[
        str, typer.Option(help="webchat, whatsapp, sms, email or instagram: how replies look.")
    ] = "webchat",
) -> None:
    """Talk to the bot as a guest, one line per message (/quit or Ctrl-D ends).

    Messages go through the real gateway and the database named by the settings;
    the demo restaurant is created first when it is asked for and absent."""
    import sys

    from saveit.conversation.terminal import run_chat

    if channel not in {"webchat", "whatsapp", "sms", "email", "instagram"}:
        typer.echo("--channel must be webchat, whatsapp, sms, email or instagram", err=True)
        raise typer.Exit(code=2)
    _migrate()
    if restaurant == "demo":
        _seed(_load_spec(DEMO_FILE))
    container = build(load_settings(), migrate=False)
    interactive = sys.stdin.isatty()

    def lines() -> Iterator[str]:
        while True:
            try:
                yield input("> " if interactive else "")
            except EOFError:
                return

    try:
        typer.echo(f"chatting with '{restaurant}' on {channel}; /quit to leave")
        run_chat(
            container.booking,
            slug=restaurant,
            channel=channel,  # type: ignore[arg-type]
            lines=lines(),
            write=lambda text: typer.echo(f"\n{text}\n"),
            pending_minutes=container.settings.chat_pending_minutes,
        )
    except errors.NotFound as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(code=2) from exc
    finally:
        container.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
