"""``saveit report``: a restaurant's figures in the terminal, as a table, CSV or JSON.

Days no event has touched since the analytics began (history from before, or a
long quiet range) have no counters yet: they are computed first, with a
progress bar when there are many.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from saveit.analytics.export import COLUMNS, rows, to_csv
from saveit.analytics.report import Report
from saveit.analytics.service import Analytics
from saveit.cli.app import app
from saveit.config import load_settings
from saveit.store.database import create_db_engine

PROGRESS_FROM = 14  # days to compute before a progress bar is worth showing

Format = Literal["table", "csv", "json"]


@app.command("report")
def report(
    restaurant: Annotated[str, typer.Option("--restaurant", help="The restaurant's slug.")],
    since: Annotated[
        dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (local).")
    ],
    until: Annotated[
        dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (local).")
    ],
    output: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    group: Annotated[
        str, typer.Option("--group", help="total, day, week, service or channel.")
    ] = "total",
) -> None:
    """The restaurant's figures for a range of its days."""
    if output not in ("table", "csv", "json"):
        raise typer.BadParameter("table, csv or json", param_hint="--format")
    if group not in ("total", "day", "week", "service", "channel"):
        raise typer.BadParameter("total, day, week, service or channel", param_hint="--group")
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        analytics = Analytics(engine)
        first, last = since.date(), until.date()
        restaurant_id, missing = analytics.missing_days(restaurant, first, last)
        if len(missing) >= PROGRESS_FROM:  # the bar goes to stderr: CSV and JSON stay clean
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("computing days", total=len(missing))
                analytics.fill(
                    restaurant_id, missing, lambda done, _: bar.update(task, completed=done)
                )
        elif missing:
            analytics.fill(restaurant_id, missing)
        found = analytics.report(restaurant, first, last, group)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    typer.echo(render(found, output), nl=False)  # type: ignore[arg-type]


def render(found: Report, output: Format) -> str:
    if output == "json":
        return found.model_dump_json(by_alias=True, indent=2) + "\n"
    if output == "csv":
        return to_csv(found)
    table = Table(title=f"{found.restaurant} {found.from_} – {found.to} ({found.timezone})")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), overflow="fold")
    for line in rows(found):
        table.add_row(*line)
    console = Console(width=200, record=True)
    with console.capture() as captured:
        console.print(table)
        if found.total.missed_targets:
            console.print("misses the brief's target: " + ", ".join(found.total.missed_targets))
    return captured.get()
