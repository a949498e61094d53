"""The bot from a terminal: ``saveit parse``, ``saveit eval`` and ``saveit chat``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from saveit.bootstrap import build
from saveit.cli.app import DEMO_FILE, app, migrate
from saveit.cli.serve import load_spec, seed_spec
from saveit.config import load_settings
from saveit.domain import errors

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
    migrate()
    if restaurant == "demo":
        seed_spec(load_spec(DEMO_FILE))
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
