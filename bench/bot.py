"""Bot reply latency: from a guest's signed WhatsApp webhook to our send request.

Run: ``.venv/bin/python bench/bot.py [--guests 300] [--concurrency 4]
[--max-seconds 600] [--database-url URL] [--redis-url URL] [--split-worker N]``.

Production shape, as webhooks.py: a throwaway PostgreSQL database with the demo
restaurant, Redis, ``saveit worker`` and the API (uvicorn, 2 workers), a
loopback stand-in for the Graph API that notes when each send request
arrives. Each guest holds a real booking conversation: a request with date,
time and party size (the bot checks the rules and the free tables), then a tap
on the first time offered if that one was taken, then a tap on "Sí" (the bot
books and confirms) — ``--concurrency`` guests at a time, each waiting for the
bot's answer before writing again, as people do.

A turn's latency is from the start of the webhook POST to the moment the Graph
stand-in receives the bot's reply to that guest: acknowledgement, claim,
parse, dialogue, availability and booking queries, queueing, and the send.
Target: p95 < 200 ms. The bench also checks that every guest ended up with a
confirmed booking.

``--split-worker N`` runs the worker in halves instead, as ``saveit worker
--only events`` and N × ``--only channels`` (README, Operations): the guests'
turns then do not share an interpreter lock with the relay and its consumers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from booking import (
    ROOT,
    bench_database,
    cpu_seconds,
    forget_redis_keys,
    machine_header,
    mark,
    peak_rss_mb,
    postgres_pids,
    relay_worker,
    server,
    worker_pids,
)
from saveit.store.database import create_db_engine
from webhooks import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    GraphStandIn,
    give_up,
    put_whatsapp_channel,
    seed_demo,
    whatsapp_env,
)

TURN_TIMEOUT_S = 10.0
MAX_TURNS = 8  # a time taken by another guest meanwhile costs two more
MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
TIMES = (
    "a las 13:30", "a las 14h", "a las 14:15", "a las 9 de la noche", "a las 21:30",
    "a las 20:15", "a las 22:00", "a las 8 y media", "a las 13:00", "a las 15:00",
)  # fmt: skip


class TimedGraph(GraphStandIn):
    """The Graph stand-in, noting when each reply to each guest arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_text: dict[str, str] = {}

    def noted(self, to: str, body: dict[str, Any]) -> str:
        at = time.perf_counter()
        shown = body.get("text") or body.get("interactive", {}).get("body") or {}
        self.last_text[to] = str(shown.get("body") or shown.get("text") or "")
        queue, loop = self.arrived.get(to), self.loop
        if queue is not None and loop is not None:
            loop.call_soon_threadsafe(queue.put_nowait, (at, body))
        return super().noted(to, body)


def webhook(wa_id: str, n: int, content: dict[str, Any]) -> tuple[bytes, str]:
    message = {
        "from": wa_id,
        "id": f"wamid.BOT{wa_id}{os.getpid()}N{n:04d}",
        "timestamp": str(int(time.time())),
        **content,
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "34910000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Guest {wa_id[-4:]}"}, "wa_id": wa_id}],
        "messages": [message],
    }
    doc = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    raw = json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode()
    return raw, "sha256=" + hmac.new(APP_SECRET, raw, hashlib.sha256).hexdigest()


def answer_to(reply: dict[str, Any]) -> dict[str, Any] | None:
    """What a guest does next: tap "Sí" on a confirmation, tap the first time offered,
    or nothing once the booking is confirmed (or the bot said something else)."""
    interactive = reply.get("interactive")
    if not interactive:
        return None
    action = interactive["action"]
    if interactive["type"] == "button":
        first = action["buttons"][0]["reply"]
        kind = "button_reply"
    else:
        first = action["sections"][0]["rows"][0]
        kind = "list_reply"
    if not (first["id"] == "yes" or first["id"].startswith("t:")):
        return None
    picked = {"id": first["id"], "title": first["title"]}
    return {"type": "interactive", "interactive": {"type": kind, kind: picked}}


async def converse(
    session: aiohttp.ClientSession,
    url: str,
    graph: TimedGraph,
    wa_id: str,
    opening: str,
    latencies: list[tuple[str, float]],
    failures: list[str],
) -> None:
    """One guest: the opening request, then taps on what the bot offers until it
    stops offering (booked) — at most MAX_TURNS messages."""
    queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
    graph.arrived[wa_id] = queue
    content: dict[str, Any] | None = {"type": "text", "text": {"body": opening}}
    for n in range(MAX_TURNS):
        if content is None:
            return
        raw, signature = webhook(wa_id, n, content)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        start = time.perf_counter()
        async with session.post(url, data=raw, headers=headers) as resp:
            await resp.read()
            if resp.status != 200:
                failures.append(f"{wa_id}: webhook {resp.status}")
                return
        try:
            arrived, reply = await asyncio.wait_for(queue.get(), TURN_TIMEOUT_S)
        except TimeoutError:
            failures.append(f"{wa_id}: no reply to turn {n} within {TURN_TIMEOUT_S:.0f} s")
            return
        latencies.append((kind_of(content), (arrived - start) * 1000))
        content = answer_to(reply)


def kind_of(content: dict[str, Any]) -> str:
    """Which turn a guest's message is: the opening request, a time picked from the
    offered ones, or the "Sí" that books (the turn with a booking's transaction in it)."""
    if content["type"] == "text":
        return "request"
    interactive = content["interactive"]
    return "confirm" if interactive[interactive["type"]]["id"] == "yes" else "pick"


async def load(
    url: str, graph: TimedGraph, scripts: dict[str, str], concurrency: int
) -> tuple[list[tuple[str, float]], list[str], float]:
    graph.loop = asyncio.get_running_loop()
    latencies: list[tuple[str, float]] = []
    failures: list[str] = []
    todo = iter(scripts.items())

    async def guest_loop(session: aiohttp.ClientSession) -> None:
        for wa_id, opening in todo:
            await converse(session, url, graph, wa_id, opening, latencies, failures)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        warm = dict(list(scripts.items())[:concurrency])
        for wa_id in warm:
            scripts.pop(wa_id)
        todo = iter(warm.items())  # warm-up guests: their turns are not timed
        await asyncio.gather(*(guest_loop(session) for _ in range(concurrency)))
        latencies.clear()
        todo = iter(scripts.items())
        start = time.perf_counter()
        await asyncio.gather(*(guest_loop(session) for _ in range(concurrency)))
    return latencies, failures, time.perf_counter() - start


def scripts(guests: int) -> dict[str, str]:
    """Each guest's opening request, on dates spread over the coming weeks."""
    rng = random.Random(7)
    today = date.today()
    out = {}
    for g in range(guests):
        day = today + timedelta(days=rng.randint(3, 45))
        when = f"el {day.day} de {MONTHS[day.month - 1]}"
        ask = f"Hola, mesa para {rng.randint(2, 6)} {when} {rng.choice(TIMES)} x favor"
        out[f"3461{g:07d}"] = ask
    return out


def booked(url: str) -> set[str]:
    """The guests (WhatsApp ids) the bot made a booking for."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            query = (
                "SELECT g.phone FROM reservations r JOIN guests g ON g.id = r.guest_id"
                " WHERE r.source = 'whatsapp'"
            )
            return {str(p).lstrip("+") for p in conn.execute(text(query)).scalars()}
    finally:
        engine.dispose()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> int:
    plan = scripts(args.guests + args.concurrency)
    everyone = dict(plan)
    logs = ROOT / "bench" / ".logs"
    logs.mkdir(exist_ok=True)
    prefix = f"saveit:bench:{os.getpid()}"
    graph = TimedGraph()
    threading.Thread(target=graph.serve_forever, name="graph", daemon=True).start()
    try:
        with bench_database(args.database_url) as url:
            print(f"database: {make_url(url).database}")
            seed_demo(url)
            env = whatsapp_env(url, graph, args.redis_url, prefix)
            env["SAVEIT_WORKER_METRICS_PORT"] = str(metrics_port := free_port())
            api = "saveit.api.app:create_app_from_env"
            try:
                with (
                    workers(env, logs, args.split_worker) as turners,
                    server(api, env, logs / "bot-api.log") as (base, pid),
                ):
                    put_whatsapp_channel(base)
                    print(f"{args.guests} guests, {args.concurrency} at a time ...", flush=True)
                    groups: dict[str, Callable[[], list[int]]] = {
                        "worker": lambda: turners,
                        "API": lambda: worker_pids(pid),
                        "PostgreSQL": postgres_pids,
                    }
                    before = {n: cpu_by_pid(pids()) for n, pids in groups.items()}
                    answering = answer_time(metrics_port)
                    latencies, failures, seconds = asyncio.run(
                        load(f"{base}/webhooks/whatsapp", graph, plan, args.concurrency)
                    )
                    spent = {
                        # a process started meanwhile (a new backend) spent it all now
                        n: sum(c - before[n].get(p, 0.0) for p, c in cpu_by_pid(pids()).items())
                        for n, pids in groups.items()
                    }
                    answering = tuple(
                        a - b for a, b in zip(answer_time(metrics_port), answering, strict=True)
                    )
                    rss = list(peak_rss_mb(worker_pids(pid)).values())
                    made = booked(url)
                    for wa_id in sorted(set(everyone) - made)[:5]:
                        said, answer = everyone[wa_id], graph.last_text.get(wa_id)
                        print(f"  not booked: {said!r} -> {answer!r}")
            finally:
                forget_redis_keys(args.redis_url, prefix)
    finally:
        graph.shutdown()
        graph.server_close()
    return report(latencies, failures, seconds, rss, spent, answering, len(made), args)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answer_time(port: int) -> tuple[float, float]:
    """The worker's time answering messages so far (its bot reply histogram's sum in
    seconds, and count): the answering thread's own time a turn, queueing aside."""
    found = {"sum": 0.0, "count": 0.0}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:  # no metrics server (a split worker's events half serves none of it)
        return 0.0, 0.0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        for part in found:
            if name == f"saveit_bot_reply_duration_seconds_{part}":
                found[part] += float(value)
    return found["sum"], found["count"]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


@contextlib.contextmanager
def workers(env: dict[str, str], logs: Path, split: int) -> Iterator[list[int]]:
    """One ``saveit worker``, or (``--split-worker N``) one for the events and N
    for the guest turns, each on its own interpreter; yields their pids."""
    if not split:
        with relay_worker(env, logs / "bot-worker.log") as pid:
            yield [pid]
        return
    channels_env = {**env, "SAVEIT_WORKER_METRICS_PORT": "0"}
    with contextlib.ExitStack() as stack:
        pids = [stack.enter_context(relay_worker(env, logs / "bot-worker.log", only="events"))]
        for n in range(split):
            log = logs / f"bot-channels-{n}.log"
            pids.append(stack.enter_context(relay_worker(channels_env, log, only="channels")))
        yield pids


def report(
    timed: list[tuple[str, float]],
    failures: list[str],
    seconds: float,
    rss: list[float],
    spent: dict[str, float],
    answering: tuple[float, ...],
    made: int,
    args: argparse.Namespace,
) -> int:
    if not timed:
        print("no turn completed:", *failures[:5], sep="\n  ")
        return 1
    latencies = [ms for _, ms in timed]
    p95 = pct(latencies, 95)
    expected = args.guests + args.concurrency
    print(f"\n{len(latencies)} timed turns in {seconds:.1f} s ({len(latencies) / seconds:.1f}/s)")
    print(
        f"  webhook -> send request: p50 {pct(latencies, 50):.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies):.1f} ms"
    )
    for kind in ("request", "pick", "confirm"):
        some = [ms for k, ms in timed if k == kind]
        if some:
            print(
                f"    {kind:8s} {len(some):4d} turns: p50 {pct(some, 50):.1f} ms, "
                f"p95 {pct(some, 95):.1f} ms"
            )
    per_turn = ", ".join(f"{n} {1000 * cpu / len(latencies):.1f} ms" for n, cpu in spent.items())
    print(f"  CPU per turn (steadier than latency on a shared machine): {per_turn}")
    answered_s, answered = answering
    if answered:
        print(
            f"  answering a message (the worker's own time, queueing aside): "
            f"{1000 * answered_s / answered:.1f} ms over {answered:.0f}"
        )
    print("  peak RSS per API process (VmHWM): " + ", ".join(f"{mb:.0f} MB" for mb in rss))
    print(f"  confirmed bookings made by the bot: {made} of {expected} guests")
    for failure in failures[:5]:
        print(f"  failure: {failure}")
    print("\nTargets")
    print(f"  {mark(p95 < 200)}  p95 bot reply < 200 ms    {p95:.1f} ms")
    print(f"  {mark(not failures)}  every turn answered      {len(failures)} failures")
    print(f"  {mark(made == expected)}  every guest booked       {made}/{expected}")
    return 0 if not failures and made == expected else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=300, help="timed conversations")
    parser.add_argument("--concurrency", type=int, default=4, help="guests talking at once")
    parser.add_argument("--max-seconds", type=float, default=600, help="bound on the whole run")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--split-worker",
        type=int,
        default=0,
        metavar="N",
        help="`saveit worker --only events` and N `--only channels` instead of one worker",
    )
    args = parser.parse_args()
    if not (1 <= args.guests <= 10**5 and 1 <= args.concurrency <= 256):
        parser.error("--guests must be 1..1e5, --concurrency 1..256")
    print("SaveIt bot reply latency bench")
    print(machine_header())
    worker = (
        f"`saveit worker --only events` + {args.split_worker} × `--only channels`"
        if args.split_worker
        else "`saveit worker`"
    )
    print(f"mode: PostgreSQL + Redis, {worker} and the API, uvicorn --workers 2")
    print("Graph API: loopback stand-in; each guest: request [-> pick a time] -> Sí -> booked")
    signal.signal(signal.SIGALRM, give_up)
    signal.signal(signal.SIGTERM, give_up)
    signal.alarm(max(1, int(args.max_seconds)))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
