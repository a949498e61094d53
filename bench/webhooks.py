"""Signed WhatsApp webhooks at 64 concurrent senders: acks/s, ack latency, nothing lost.

Run: ``.venv/bin/python bench/webhooks.py [--messages 5000] [--senders 64]
[--duplicates 0.1] [--generator wrk|aiohttp] [--api-processes 1] [--max-seconds 600]
[--database-url URL] [--redis-url URL]``.

It creates a throwaway PostgreSQL database with the demo restaurant, starts a
loopback stand-in for the Graph API, ``saveit worker`` (which answers the
guests) and the real API (uvicorn, ``--api-processes`` workers, PostgreSQL +
Redis: the production shape, the API only acknowledging), puts
the demo's WhatsApp number in through ``PUT …/channels/whatsapp``, then POSTs
signed Cloud API webhooks (one distinct guest text each, JSON escaped as Meta
sends it) from closed-loop senders, re-sending a share of them with the same
wamid. The senders are ``wrk``'s connections (``loadgen.post_pass``: compiled,
its own process, its CPU printed) unless ``--generator aiohttp`` asks for the
Python senders in this process, which took a fifth of a core from the servers.
Then it waits (at most 120 s) until the worker has answered every
stored message and audits ``channel_messages``: each wamid stored exactly once.
Exit status is non-zero only on request errors or lost/duplicated messages.
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
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import aiohttp
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

import loadgen
from booking import (
    ADMIN_TOKEN,
    ROOT,
    OpStats,
    bench_database,
    cpu_seconds,
    forget_redis_keys,
    machine_header,
    mark,
    peak_rss_mb,
    relay_worker,
    server,
    worker_pids,
)
from saveit.admin.setup import apply_spec, parse_document
from saveit.store.database import create_db_engine
from saveit.store.migrate import upgrade

APP_SECRET = b"bench-meta-app-secret-0123456789"
PHONE_NUMBER_ID = "109876543210001"
GUESTS = 300  # ~17 messages each at the default count: under the 20/min guest limit
WARMUP = 256  # distinct messages sent first: audited, not timed
DRAIN_S = 120.0
WEBHOOK_PATH = "/webhooks/whatsapp"
TEXTS = (
    "Hola, ¿tenéis mesa para {n} mañana a las 21:00? 😀",
    "Buenas, quería reservar en la terraza el sábado para {n} ☀️",
    "¿Podemos pasar la reserva a las 20:30? Al final somos {n} 🙏",
    "¿Hay opción sin gluten? Vamos {n} personas",
    "¡Gracias! Nos vemos el viernes, seremos {n} 🎉",
    "Perdona, ¿se puede ir con carrito de bebé? Somos {n}",
)
NAMES = ("María Peña", "José Núñez", "Lucía Gómez", "Íñigo Ibáñez", "Begoña Martín", "Jordi Vidal")


class GraphStandIn(ThreadingHTTPServer):
    """Loopback Graph API: answers ``POST /{version}/{phone_number_id}/messages``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), GraphHandler)
        self.lock = threading.Lock()
        self.replies: list[str] = []

    def noted(self, to: str, body: dict[str, Any]) -> str:
        """Record a send to ``to``; returns the wamid to answer with."""
        with self.lock:
            self.replies.append(to)
            return f"wamid.out{len(self.replies):010d}"


class GraphHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the sender's httpx pool expects
    # Headers and body go out in two writes: with Nagle on, the body waits for the
    # client's delayed ACK (40 ms on Linux), a stall the real Graph API does not add.
    disable_nagle_algorithm = True
    server: GraphStandIn

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        to = str(body.get("to") or body.get("recipient") or "")
        wamid = self.server.noted(to, body)
        contacts, messages = [{"input": to, "wa_id": to}], [{"id": wamid}]
        raw = json.dumps(
            {"messaging_product": "whatsapp", "contacts": contacts, "messages": messages}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def graph_stand_in() -> Iterator[GraphStandIn]:
    graph = GraphStandIn()
    threading.Thread(target=graph.serve_forever, name="graph-stand-in", daemon=True).start()
    try:
        yield graph
    finally:
        graph.shutdown()
        graph.server_close()


def seed_demo(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        demo = ROOT / "src" / "saveit" / "demo.yaml"
        apply_spec(engine, parse_document(yaml.safe_load(demo.read_text())))
    finally:
        engine.dispose()


def whatsapp_env(url: str, graph: GraphStandIn, redis_url: str, prefix: str) -> dict[str, str]:
    """The settings of every SaveIt process in a WhatsApp bench: the database, Redis
    under ``prefix``, the Meta app secret and the Graph stand-in."""
    return {
        "SAVEIT_DATABASE_URL": url,
        "SAVEIT_ADMIN_TOKEN": ADMIN_TOKEN,
        "SAVEIT_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "SAVEIT_META_APP_SECRET": APP_SECRET.decode(),
        "SAVEIT_META_VERIFY_TOKEN": "bench-verify-token",
        "SAVEIT_GRAPH_API_BASE": f"http://127.0.0.1:{graph.server_address[1]}",
        "SAVEIT_REDIS_URL": redis_url,
        "SAVEIT_REDIS_PREFIX": prefix,
        "SAVEIT_EVENTS_STREAM": f"{prefix}:events",
    }


def put_whatsapp_channel(base: str) -> None:
    body = {"phone_number_id": PHONE_NUMBER_ID, "access_token": "bench-graph-token"}
    req = urllib.request.Request(
        f"{base}/v1/restaurants/demo/channels/whatsapp",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 200:
            raise RuntimeError(f"channel PUT returned {resp.status}")


class Webhook(NamedTuple):
    wamid: str
    guest: str
    raw: bytes
    signature: str  # X-Hub-Signature-256


def webhook(i: int, rng: random.Random) -> Webhook:
    """One Cloud API webhook carrying one guest text, signed with the app secret."""
    guest = rng.randrange(GUESTS)
    wa_id = f"3460{guest:07d}"
    wamid = f"wamid.HBgL{wa_id}FQIAEhgU{os.getpid()}B{i:08d}"
    text_body = rng.choice(TEXTS).format(n=rng.randint(2, 8))
    message = {"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "34910000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": NAMES[guest % len(NAMES)]}, "wa_id": wa_id}],
        "messages": [{**message, "text": {"body": text_body}}],
    }
    doc = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    raw = json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode()  # as Meta escapes
    signature = "sha256=" + hmac.new(APP_SECRET, raw, hashlib.sha256).hexdigest()
    return Webhook(wamid, wa_id, raw, signature)


class Acks(NamedTuple):
    """One timed pass of acknowledgements, whichever generator sent it."""

    answered: int
    seconds: float
    p50: float
    p95: float
    p99: float
    max: float
    statuses: str
    errors: int
    stored: int
    duplicates: int
    generator_cpu_s: float | None  # None: not measured apart (it shares this process)
    api_cpu_s: float  # the API processes' CPU over the timed pass


def headers_of(hook: Webhook) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": hook.signature}


def send_order(first: int, count: int, share: float, rng: random.Random) -> list[int]:
    """Indices ``first..first+count-1`` in order, plus re-sends of ``share`` of them,
    each somewhere after its original (already acknowledged, or still in flight)."""
    keyed = [(float(i), i) for i in range(first, first + count)]
    for i in rng.sample(range(first, first + count), round(count * share)):
        keyed.append((rng.uniform(i + 1, first + count), i))
    return [i for _, i in sorted(keyed)]


async def post_all(
    session: aiohttp.ClientSession, url: str, hooks: list[Webhook], order: list[int], senders: int
) -> tuple[OpStats, float, dict[str, int]]:
    """``senders`` closed-loop senders share ``order``; latency is POST to answer read."""
    stats, acks, todo = OpStats(), {"stored": 0, "duplicates": 0}, iter(order)

    async def sender() -> None:
        for hook in (hooks[i] for i in todo):
            start = time.perf_counter()
            try:
                async with session.post(url, data=hook.raw, headers=headers_of(hook)) as resp:
                    answer, status = await resp.read(), str(resp.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                answer, status = b"", type(exc).__name__
            stats.add(status, (time.perf_counter() - start) * 1000)
            if status == "200":
                receipt = json.loads(answer)
                for key in acks:
                    acks[key] += int(receipt.get(key, 0))

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return stats, time.perf_counter() - start, acks


async def load(
    url: str, hooks: list[Webhook], order: list[int], senders: int, api: list[int]
) -> Acks:
    """The aiohttp generator: Python, in this process, on the same cores as the servers."""
    connector = aiohttp.TCPConnector(limit=senders)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await post_all(session, url, hooks, list(range(WARMUP)), senders)
        api_cpu = cpu_seconds(api)
        stats, seconds, acks = await post_all(session, url, hooks, order, senders)
        api_cpu = cpu_seconds(api) - api_cpu
    ok = stats.statuses.get("200", 0)
    return Acks(
        answered=len(stats.latencies),
        seconds=seconds,
        p50=stats.pct(50),
        p95=stats.pct(95),
        p99=stats.pct(99),
        max=max(stats.latencies),
        statuses=" ".join(f"{k}={v}" for k, v in sorted(stats.statuses.items())),
        errors=len(stats.latencies) - ok,
        stored=acks["stored"],
        duplicates=acks["duplicates"],
        generator_cpu_s=None,
        api_cpu_s=api_cpu,
    )


def load_wrk(
    base: str, hooks: list[Webhook], order: list[int], senders: int, left: float, api: list[int]
) -> Acks:
    """The wrk generator (``loadgen.post_pass``): compiled, one thread, ``senders``
    keep-alive connections in a closed loop, so the cores go to the servers."""
    port = int(base.rsplit(":", 1)[1])

    def posts(indices: list[int]) -> list[tuple[dict[str, str], bytes]]:
        return [(headers_of(hooks[i]), hooks[i].raw) for i in indices]

    warm, timed = posts(list(range(WARMUP))), posts(order)
    loadgen.post_pass(port, WEBHOOK_PATH, warm, seconds=left, connections=senders)
    api_cpu = cpu_seconds(api)
    result = loadgen.post_pass(port, WEBHOOK_PATH, timed, seconds=left, connections=senders)
    api_cpu = cpu_seconds(api) - api_cpu
    ok = result.answered - result.bad
    statuses = f"200={ok}" + (f" other={result.bad}" if result.bad else "")
    return Acks(
        answered=result.answered,
        seconds=result.seconds,
        p50=result.p50_ms,
        p95=result.p95_ms,
        p99=result.p99_ms,
        max=result.max_ms,
        statuses=statuses + (f" transport errors={result.errors}" if result.errors else ""),
        errors=result.bad + result.errors + (len(order) - result.answered),
        stored=result.stored,
        duplicates=result.duplicates,
        generator_cpu_s=result.cpu_s,
        api_cpu_s=api_cpu,
    )


COUNTS = text(
    "SELECT count(*) FILTER (WHERE direction = 'in' AND processed_at IS NOT NULL) processed,"
    " count(*) FILTER (WHERE direction = 'in' AND processed_at IS NOT NULL"
    "   AND error_code IS NULL) answered,"
    " count(*) FILTER (WHERE direction = 'out') queued,"
    " count(*) FILTER (WHERE direction = 'out' AND processed_at IS NULL) pending,"
    " count(*) FILTER (WHERE direction = 'out' AND status = 'sent') out_sent"
    " FROM channel_messages"
)


def audit(url: str, sent: set[str], graph: GraphStandIn) -> dict[str, Any]:
    """Wait (at most DRAIN_S) until every message is answered and every reply sent,
    then hold the stored inbound rows against the wamids sent."""
    engine = create_db_engine(url)
    start = time.monotonic()
    try:
        while True:
            with engine.connect() as conn:
                counts = conn.execute(COUNTS).one()
            with graph.lock:  # read with the counts: replies still go out until the stop
                replies = len(graph.replies)
            done = counts.processed >= len(sent) and counts.pending == 0
            if done or time.monotonic() - start > DRAIN_S:
                break
            time.sleep(0.25)
        with engine.connect() as conn:
            query = "SELECT provider_message_id FROM channel_messages WHERE direction = 'in'"
            stored = list(conn.execute(text(query)).scalars())
    finally:
        engine.dispose()
    return counts._asdict() | {
        "replies": replies,
        "drained_s": time.monotonic() - start,
        "stored": len(stored),
        "lost": len(sent - set(stored)),
        "duplicated": len(stored) - len(set(stored)),
        "unknown": len(set(stored) - sent),
    }


def report(acks: Acks, rss: list[float], found: dict[str, Any]) -> bool:
    errors, p99 = acks.errors, acks.p99
    bad = found["lost"] + found["duplicated"] + found["unknown"]
    print(f"\n1. Acknowledgements: {acks.answered} POSTs in {acks.seconds:.1f} s [{acks.statuses}]")
    rate = (acks.answered - errors) / acks.seconds
    print(f"  acks/s {rate:.1f}; latency p50 {acks.p50:.1f} ms, ", end="")
    print(f"p95 {acks.p95:.1f} ms, p99 {p99:.1f} ms, max {acks.max:.1f} ms")
    print(f"  the API answered (timed): stored {acks.stored}, duplicate {acks.duplicates}")
    if acks.generator_cpu_s is not None:
        share = acks.generator_cpu_s / acks.seconds
        print(f"  load generator (wrk, timed pass): {acks.generator_cpu_s:.2f} s of CPU, ", end="")
        print(f"{share:.0%} of one core over the timed pass")
    per_ack = acks.api_cpu_s / max(acks.answered, 1) * 1e6
    print(f"  API CPU over the timed pass: {acks.api_cpu_s:.2f} s, {per_ack:.0f} µs per ", end="")
    print("acknowledgement (all its threads)")
    print("  peak RSS per API process (VmHWM): " + ", ".join(f"{mb:.0f} MB" for mb in rss))
    print(f"\n2. After the run (waited {found['drained_s']:.1f} s of at most {DRAIN_S:.0f} s)")
    print(f"  distinct sent          {found['sent']}")
    print(f"  stored inbound rows    {found['stored']} (lost {found['lost']}, ", end="")
    print(f"duplicated {found['duplicated']}, unknown {found['unknown']})")
    print(f"  processed by workers   {found['processed']} (answered {found['answered']})")
    print(f"  bot replies queued     {found['queued']} ({found['guests']} guests), ", end="")
    print(f"sent {found['out_sent']}")
    print(f"  replies at Graph API   {found['replies']} (loopback stand-in)")
    print("\nTargets")
    print(f"  {mark(p99 < 50)}  p99 acknowledgement < 50 ms     {p99:.1f} ms")
    print(f"  {mark(bad == 0)}  0 lost, 0 duplicated             {bad}")
    print(f"  {mark(errors == 0)}  0 errors (non-200)               {errors}")
    drained = found["processed"] == found["sent"]
    print(f"  {mark(drained)}  all processed within {DRAIN_S:.0f} s         ", end="")
    print(f"{found['processed']}/{found['sent']}")
    return errors == 0 and bad == 0


def run(args: argparse.Namespace) -> int:
    rng = random.Random(11)
    hooks = [webhook(i, rng) for i in range(WARMUP + args.messages)]
    order = send_order(WARMUP, args.messages, args.duplicates, rng)
    sent = {hook.wamid for hook in hooks}
    logs = ROOT / "bench" / ".logs"
    logs.mkdir(exist_ok=True)
    prefix = f"saveit:bench:{os.getpid()}"
    with bench_database(args.database_url) as url, graph_stand_in() as graph:
        print(f"database: {make_url(url).database}")
        seed_demo(url)
        env = whatsapp_env(url, graph, args.redis_url, prefix)
        relay = relay_worker(env, logs / "webhooks-worker.log")
        api = "saveit.api.app:create_app_from_env"
        try:
            log = logs / "webhooks-api.log"
            with relay, server(api, env, log, args.api_processes) as (base, pid):
                put_whatsapp_channel(base)
                print(f"sending {WARMUP} warm-up + {len(order)} timed webhooks ...", flush=True)
                left = max(1, args.deadline - time.monotonic() - 1)  # end it here, not by SIGALRM
                api_pids = worker_pids(pid)
                if args.generator == "wrk":
                    acks = load_wrk(base, hooks, order, args.senders, left, api_pids)
                else:
                    sending = load(f"{base}{WEBHOOK_PATH}", hooks, order, args.senders, api_pids)
                    try:
                        acks = asyncio.run(asyncio.wait_for(sending, left))
                    except TimeoutError:
                        signal.alarm(0)
                        raise SystemExit("bench stopped: --max-seconds reached") from None
                found = audit(url, sent, graph)
                rss = list(peak_rss_mb(worker_pids(pid)).values())
        finally:
            forget_redis_keys(args.redis_url, prefix)
    found |= {"sent": len(sent), "guests": len({hook.guest for hook in hooks})}
    return 0 if report(acks, rss, found) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="distinct timed messages")
    parser.add_argument("--senders", type=int, default=64)
    parser.add_argument(
        "--generator",
        choices=("wrk", "aiohttp"),
        default="wrk",
        help="wrk (compiled, its own process) or aiohttp (Python, in the bench's process)",
    )
    parser.add_argument("--duplicates", type=float, default=0.1, help="share re-sent (same wamid)")
    parser.add_argument("--max-seconds", type=float, default=600, help="bound on the whole run")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="uvicorn --workers (1: see bench/README.md on how 64 keep-alive senders split)",
    )
    args = parser.parse_args()
    if args.generator == "wrk":
        loadgen.require_wrk()
    if not (
        1 <= args.messages <= 10**6 and 1 <= args.senders <= 1024 and 0 <= args.duplicates <= 1
    ):
        parser.error("--messages must be 1..1e6, --senders 1..1024, --duplicates 0..1")
    print("SaveIt WhatsApp webhook bench")
    print(machine_header())
    print("mode: PostgreSQL + Redis; `saveit worker` (outbox relay, channel workers answering")
    nice = os.environ.get("SAVEIT_CHANNEL_WORKERS_NICE", 10)
    group = os.environ.get("SAVEIT_WORKER_GROUP_NICE", 10)
    print(f"      guests at nice {nice}, its session's group at nice {group})", end="")
    print(" and the API, ", end="")
    print(f"uvicorn --workers {args.api_processes} (acknowledging only)")
    print("rate limits on (webhooks are exempt; guest limit 20/min); Graph API: loopback stand-in")
    print(
        f"messages={args.messages} (+{WARMUP} untimed warm-up) re-sent={args.duplicates:.0%} "
        f"senders={args.senders} (closed loop, {args.generator} keep-alive, same host)"
    )
    signal.signal(signal.SIGALRM, give_up)  # raised in the main thread, so every
    signal.signal(signal.SIGTERM, give_up)  # `finally` stops servers and drops the DB
    signal.alarm(max(1, int(args.max_seconds)))
    args.deadline = time.monotonic() + args.max_seconds
    return run(args)


def give_up(signum: int, _frame: object) -> None:
    raise SystemExit(f"bench stopped by signal {signum} (--max-seconds or SIGTERM)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped and database dropped", file=sys.stderr)
        sys.exit(130)
