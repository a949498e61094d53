"""The webhook group commit's transaction, its statements together or one by one.

Run: ``.venv/bin/python bench/group_commit.py [--flushes 400] [--batch 1,10,50]
[--delay-ms 0,0.25] [--database-url URL]``.

One flush of :class:`saveit.messaging.intake.Intake` is one unit of work around
``insert_inbound_many``: on PostgreSQL (where ``channel_messages`` is partitioned)
the advisory lock on the group's keys, the insert, the inbox's ``NOTIFY`` and the
commit. Through psycopg the first three go to the server in one pipeline
(``saveit.store.absent``); with a listener on the engine's statements (as the
tracer is) they go one by one. This bench times the flush both ways, in one run,
in one process, with nothing else running: the same code, one listener apart.

``--delay-ms`` puts a loopback TCP relay between the process and PostgreSQL that
holds every chunk that long in each direction, as a network between the API and
its database would (0: straight to the server). The relay runs on an asyncio
loop, whose timers wake no finer than about a millisecond, so the round trip it
makes is printed as measured. It creates and drops a throwaway database. No
target: it shows what round trips cost a flush.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from booking import bench_database, machine_header
from saveit.domain.messages import InboundMessage
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade
from saveit.store.unit_of_work import database_of

WARMUP = 30
RAW = '{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{}}]}]}' * 8
TEMPLATE = InboundMessage(
    channel="whatsapp",
    provider_message_id="",
    sender="+34600000001",
    recipient="100200300",
    text="Hola, mesa para 4 el viernes a las 9",
    sent_at=datetime(2026, 12, 4, 20, 0, tzinfo=UTC),
    raw=RAW,
)


@contextmanager
def relay(host: str, port: int, delay_s: float) -> Iterator[int]:
    """A TCP relay to ``host:port`` that holds each chunk ``delay_s`` each way; its port."""
    ready = threading.Event()
    found: dict[str, Any] = {}

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Each chunk leaves ``delay_s`` after it came, whatever came before it: a
        # network's latency, not a queue that holds every chunk in turn.
        loop = asyncio.get_running_loop()
        try:
            while chunk := await reader.read(65536):
                if delay_s:
                    loop.call_later(delay_s, writer.write, chunk)
                else:
                    writer.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            loop.call_later(delay_s, writer.close)

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, port)
        with contextlib.suppress(asyncio.CancelledError):  # the relay stopping
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        found["port"] = server.sockets[0].getsockname()[1]
        found["stop"] = asyncio.Event()
        found["loop"] = asyncio.get_running_loop()
        ready.set()
        await found["stop"].wait()
        server.close()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        await asyncio.gather(
            *asyncio.all_tasks() - {asyncio.current_task()}, return_exceptions=True
        )

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield int(found["port"])
    finally:
        found["loop"].call_soon_threadsafe(found["stop"].set)
        thread.join(5)


@contextmanager
def reached(url: str, delay_ms: float) -> Iterator[tuple[str, str]]:
    """The database at ``url`` as reached through a relay of ``delay_ms`` each way (0:
    straight): the address to connect to, and a label saying how."""
    if not delay_ms:
        yield url, "straight to the server"
        return
    parsed = make_url(url)
    server = (parsed.host or "127.0.0.1", parsed.port or 5432)
    with relay(*server, delay_ms / 1000) as port:
        target = parsed.set(host="127.0.0.1", port=port).render_as_string(False)
        yield target, f"through a relay ({delay_ms:g} ms each way)"


def restaurant(engine: Engine) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO restaurants (slug, name, timezone, rules, config_version,"
                    " created_at, updated_at) VALUES ('bench', 'Bench', 'UTC', '{}', 1,"
                    " now(), now()) RETURNING id"
                )
            ).scalar_one()
        )


def round_trip(engine: Engine) -> str:
    """The measured round trip (``SELECT 1`` on a checked-out connection), median."""
    taken = []
    with engine.connect() as conn:
        for _ in range(200):
            started = time.perf_counter()
            conn.exec_driver_sql("SELECT 1").scalar()
            taken.append(time.perf_counter() - started)
    return f"a round trip (SELECT 1) takes {statistics.median(taken) * 1000:.2f} ms"


def time_flushes(engine: Engine, restaurant_id: int, batch: int, flushes: int) -> list[float]:
    """Seconds per flush of ``batch`` new webhooks (after a warm-up)."""
    db = database_of(engine)
    taken: list[float] = []
    for n in range(WARMUP + flushes):
        group = [
            (restaurant_id, replace(TEMPLATE, provider_message_id=f"wamid.{time.time_ns()}.{i}"))
            for i in range(batch)
        ]
        started = time.perf_counter()
        with db.unit_of_work() as uow:
            uow.messages.insert_inbound_many(group, datetime.now(UTC))
        if n >= WARMUP:
            taken.append(time.perf_counter() - started)
    return taken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flushes", type=int, default=400)
    parser.add_argument("--batch", default="1,10,50")
    parser.add_argument("--delay-ms", default="0,0.25")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    delays = [float(d) for d in args.delay_ms.split(",")]
    print("SaveIt group commit: one flush's transaction, statements together or one by one")
    print(machine_header())
    print(f"flushes={args.flushes} per cell (+{WARMUP} warm-up), medians; alternated")
    with bench_database(args.database_url) as url:
        setup = create_db_engine(url)
        upgrade(setup)
        restaurant_id = restaurant(setup)
        setup.dispose()
        for delay in delays:
            with reached(url, delay) as (target, where):
                engine = create_db_engine(target, pool_size=1)
                print(f"\n{where}: {round_trip(engine)}")
                for batch in batches:
                    cells: dict[str, list[float]] = {"together": [], "one by one": []}
                    for _ in range(2):  # alternated, so drift hits both alike
                        for way in cells:
                            listener = (lambda *a: None) if way == "one by one" else None
                            if listener is not None:
                                event.listen(engine, "before_cursor_execute", listener)
                            cells[way] += time_flushes(
                                engine, restaurant_id, batch, args.flushes // 2
                            )
                            if listener is not None:
                                event.remove(engine, "before_cursor_execute", listener)
                    apart = statistics.median(cells["one by one"]) * 1000
                    together = statistics.median(cells["together"]) * 1000
                    print(
                        f"  {batch:3d} webhooks a flush: one by one {apart:6.2f} ms, "
                        f"together {together:6.2f} ms ({1 - together / apart:.0%} less)"
                    )
                engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
