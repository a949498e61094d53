"""The long-running processes besides the API: ``saveit worker`` and ``saveit smtp``
(their background parts are :mod:`saveit.runtime`'s), and ``saveit audit``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from saveit.bootstrap import build, freeze_startup_heap
from saveit.cli.app import app, settings_for
from saveit.config import load_settings
from saveit.observe import auditor, logs
from saveit.resilience.priority import lower_session_group
from saveit.runtime import Plan, Runtime, WorkerPart
from saveit.store.database import create_db_engine


def _stop_on_signals(stopping: threading.Event) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())


@app.command()
def worker(
    only: Annotated[
        WorkerPart | None,
        typer.Option(
            help="Run only this part: 'events' (the outbox relay, notifications, the "
            "waitlist, analytics and the auditor) or 'channels' (answer and deliver guest "
            "messages). Any number of each may run."
        ),
    ] = None,
) -> None:
    """Publish committed outbox events to the bus, answer stored guest messages and
    deliver queued ones, notify guests, send reminders and mark no-shows, until
    SIGTERM/SIGINT (production mode)."""
    settings = settings_for()
    logs.configure(settings.resolved_log_format, settings.log_level)
    if lower_session_group(settings.worker_group_nice):
        typer.echo(f"worker: its scheduling group runs at nice {settings.worker_group_nice}")
    container = build(settings, migrate=settings.database_url is None)
    parts = frozenset(WorkerPart) if only is None else frozenset({only})
    runtime = Runtime(container, Plan.worker(settings, parts))
    _stop_on_signals(runtime.stopping)
    if WorkerPart.EVENTS in parts:
        typer.echo(f"worker: relaying the outbox to {type(container.bus).__name__}")
    if WorkerPart.CHANNELS in parts:
        typer.echo("worker: answering and delivering guest messages")
    runtime.start()
    freeze_startup_heap()
    try:
        runtime.run()  # the relay, on this thread
    finally:
        runtime.stop()
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
    from saveit.channels.email.inbound import serve

    settings = settings_for(host or load_settings().smtp_inbound_host)
    container = build(settings, migrate=settings.database_url is None)
    runtime = Runtime(container, Plan.smtp())
    _stop_on_signals(runtime.stopping)
    bound_host = host or settings.smtp_inbound_host
    bound_port = port or settings.smtp_inbound_port
    server = serve(container.gateway, settings, host=bound_host, port=bound_port)
    runtime.start()
    typer.echo(f"smtp: receiving guest email on {bound_host}:{bound_port}")
    try:
        runtime.run()
    finally:
        server.stop()
        runtime.stop()
        container.close()
