"""wrk, driven from the benches: a compiled load generator that is not the bottleneck.

``wrk`` (Debian package ``wrk``) runs a LuaJIT script per thread; the one here
rotates over a file of paths (thread *i* takes paths *i*, *i + threads*, …, so
the threads never ask for the same one at once), counts how each availability
answer was served (``X-SaveIt-Cache``) and, with ``limit``, sends each path at
most once and times that pass from its first request to its last answer, since
wrk itself only reports its whole ``-d`` window.

:func:`post_pass` POSTs a list of prepared requests (headers and body) once
each, in order, from closed-loop keep-alive connections, and times that pass
the same way: the webhook bench's senders.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PRELUDE = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_ts;
int clock_gettime(int clk, bench_ts *tp);
]]
local function now()
  local ts = ffi.new("bench_ts")
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local started, finished = 0, 0

local checked = false
local function wrk_checking()
  -- wrk calls thread 0's request() once before connecting, to check that it
  -- builds a valid request, and never sends it: that call must not use a path up.
  if tid == 0 and not checked then
    checked = true
    return true
  end
  return false
end

local function gathered(keys)
  -- The threads' counters summed, and the pass's first start and last finish.
  local out = {started = 0, finished = 0}
  for _, k in ipairs(keys) do out[k] = 0 end
  for _, t in ipairs(threads) do
    for _, k in ipairs(keys) do out[k] = out[k] + (t:get(k) or 0) end
    local s, f = t:get("started") or 0, t:get("finished") or 0
    if s > 0 and (out.started == 0 or s < out.started) then out.started = s end
    if f > out.finished then out.finished = f end
  end
  return out
end

local function finished_here()
  -- wrk's main thread sleeps its whole -d window even when every thread has
  -- stopped; this file tells the bench to interrupt it (SIGINT ends wrk early,
  -- with its summary), so a limited pass does not keep the server idle for long.
  local f = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. tid, "w")
  if f then f:close() end
end
"""

_SCRIPT = (
    _PRELUDE
    + r"""
local paths = {}
local next_i, sent, answered, mine = 0, 0, 0, 0
local hits, misses, other, bad = 0, 0, 0, 0

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
  next_i = tid + offset
  if limit > 0 then
    for i = tid, limit - 1, nthreads do mine = mine + 1 end
    if mine == 0 then finished_here() end
  end
end

function request()
  if wrk_checking() then return wrk.format("GET", paths[1]) end
  if limit > 0 and sent >= mine then
    return wrk.format("GET", "/healthz")  -- never answered into the counts below
  end
  if started == 0 then started = now() end
  local path = paths[(next_i % #paths) + 1]
  next_i = next_i + nthreads
  sent = sent + 1
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if limit > 0 and answered >= mine then
    wrk.thread:stop()
    return
  end
  if limit > 0 and sent >= mine and body == '{"status":"ok"}' then
    return  -- a filler's answer: not one of the paths
  end
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  local how = headers["x-saveit-cache"] or headers["X-SaveIt-Cache"]
  if how == "hit" then hits = hits + 1
  elseif how == "miss" then misses = misses + 1
  else other = other + 1 end
  if limit > 0 and answered == mine then
    finished = now()
    wrk.thread:set("started", started)
    wrk.thread:set("finished", finished)
    finished_here()
  end
  wrk.thread:set("hits", hits)
  wrk.thread:set("misses", misses)
  wrk.thread:set("other", other)
  wrk.thread:set("bad", bad)
  wrk.thread:set("answered", answered)
end

function done(summary, latency, requests)
  local out = gathered({"hits", "misses", "other", "bad", "answered"})
  out.requests, out.duration_us = summary.requests, summary.duration
  out.errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  out.p50_us, out.p99_us = latency:percentile(50), latency:percentile(99)
  io.write("BENCH_JSON ")
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,' ..
    '"hits":%d,"misses":%d,"other":%d,"bad":%d,"answered":%d,"started":%.6f,"finished":%.6f}\n',
    out.requests, out.duration_us, out.errors, out.p50_us, out.p99_us, out.hits, out.misses,
    out.other, out.bad, out.answered, out.started, out.finished))
end
"""
)


_POST_SCRIPT = (
    _PRELUDE
    + r"""
-- Each line of BENCH_REQUESTS is one POST: its headers ("name: value", separated
-- by \31), a tab, its body. Thread i sends lines i, i + threads, ... once each,
-- in order; a connection that comes free after that asks for /healthz, which is
-- not counted as an answer, until the thread's last POST is answered.
local posts = {}
local sent, answered, mine, bad, stored, duplicates = 0, 0, 0, 0, 0, 0
local filler

function init(args)
  filler = wrk.format("GET", "/healthz")  -- here, once wrk has set the Host header
  local target = os.getenv("BENCH_PATH")
  local i = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if i % nthreads == tid then
      local head, body = line:match("^([^\t]*)\t(.*)$")
      local headers = {Host = wrk.headers["Host"]}
      for pair in head:gmatch("[^\31]+") do
        local name, value = pair:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      posts[#posts + 1] = wrk.format("POST", target, headers, body)
    end
    i = i + 1
  end
  mine = #posts
  if mine == 0 then finished_here() end
end

function request()
  if wrk_checking() then return posts[1] or filler end
  if sent >= mine then return filler end
  if started == 0 then started = now() end
  sent = sent + 1
  return posts[sent]
end

function response(status, headers, body)
  if answered >= mine then
    wrk.thread:stop()
    return
  end
  if body:find('"status":"ok"', 1, true) then return end  -- a filler's answer
  local n = body:match('"stored":%s*(%d+)')
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  stored = stored + tonumber(n or "0")
  duplicates = duplicates + tonumber(body:match('"duplicates":%s*(%d+)') or "0")
  wrk.thread:set("answered", answered)
  wrk.thread:set("bad", bad)
  wrk.thread:set("stored", stored)
  wrk.thread:set("duplicates", duplicates)
  if answered == mine then  -- last: the bench interrupts wrk once the file is there
    finished = now()
    wrk.thread:set("started", started)
    wrk.thread:set("finished", finished)
    finished_here()
  end
end

function done(summary, latency, requests)
  local out = gathered({"answered", "bad", "stored", "duplicates"})
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write("BENCH_JSON ")
  io.write(string.format(
    '{"requests":%d,"errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"answered":%d,"bad":%d,"stored":%d,"duplicates":%d,"started":%.6f,"finished":%.6f}\n',
    summary.requests, errors, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, out.answered, out.bad, out.stored, out.duplicates,
    out.started, out.finished))
end
"""
)


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    hits: int
    misses: int
    other: int
    bad: int
    errors: int

    def line(self) -> str:
        return (
            f"{self.rps:8.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"hit {self.hits} miss {self.misses} other {self.other} non-200 {self.bad} "
            f"errors {self.errors}"
        )


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    return found


def run(
    port: int,
    paths: list[str],
    *,
    seconds: float,
    threads: int = 2,
    connections: int = 64,
    limit: int = 0,
    offset: int = 0,
    taskset: str | None = None,
) -> Result:
    """``limit``: send the first ``limit`` paths once each and time exactly that
    pass (``seconds`` is then only the upper bound). ``taskset``: CPU list the
    generator is pinned to (its share of the machine)."""
    with tempfile.TemporaryDirectory(prefix="saveit-wrk-") as tmp:
        script = Path(tmp) / "rotate.lua"
        script.write_text(_SCRIPT)
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        command = _command(script, port, threads, connections, seconds, timeout_s=10)
        if taskset:
            command = ["taskset", "-c", taskset, *command]
        finished = Path(tmp) / "finished"
        finished.mkdir()
        env = {
            "BENCH_PATHS": str(listing),
            "BENCH_THREADS": str(threads),
            "BENCH_LIMIT": str(limit),
            "BENCH_OFFSET": str(offset),
            "BENCH_DONE_DIR": str(finished),
            "PATH": "/usr/bin:/bin",
        }
        stdout = _run_wrk(command, env, finished if limit else None, threads)
    raw = _reported(stdout)
    if limit:
        elapsed = raw["finished"] - raw["started"]
        answered = raw["answered"]
        rps = answered / elapsed if elapsed > 0 else 0.0
    else:
        answered = raw["requests"]
        rps = raw["requests"] / (raw["duration_us"] / 1e6)
    return Result(
        rps=rps,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        requests=answered,
        hits=raw["hits"],
        misses=raw["misses"],
        other=raw["other"],
        bad=raw["bad"],
        errors=raw["errors"],
    )


def _command(
    script: Path, port: int, threads: int, connections: int, seconds: float, *, timeout_s: int
) -> list[str]:
    return [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]


def _reported(stdout: str) -> dict[str, Any]:
    """What the script's ``done`` wrote: one ``BENCH_JSON`` line."""
    line = next(x for x in stdout.splitlines() if x.startswith("BENCH_JSON "))
    reported: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return reported


def _run_wrk(command: list[str], env: dict[str, str], finished: Path | None, threads: int) -> str:
    """wrk's output; with ``finished``, interrupted as soon as every thread has sent
    its share (each leaves a file there), instead of at the end of its ``-d``."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if finished is not None:
        while process.poll() is None and len(list(finished.iterdir())) < threads:
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stdout, stderr)
    return stdout


@dataclass(frozen=True)
class PostResult:
    """One pass of POSTs: ``answered`` of them in ``seconds``, latency over every
    request wrk timed (the POSTs and at most ``connections`` - 1 /healthz fillers at
    the end, which move the p99 by less than one rank), the webhook answers' sums,
    and the CPU wrk itself used (its share of the machine)."""

    seconds: float
    answered: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    bad: int
    errors: int
    stored: int
    duplicates: int
    cpu_s: float

    @property
    def rps(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


def post_pass(
    port: int,
    path: str,
    posts: list[tuple[dict[str, str], bytes]],
    *,
    seconds: float,
    threads: int = 1,
    connections: int = 64,
) -> PostResult:
    """POST each of ``posts`` (headers, body) once, from ``connections`` keep-alive
    connections in a closed loop, in order; ``seconds`` bounds the pass."""
    with tempfile.TemporaryDirectory(prefix="saveit-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_POST_SCRIPT)
        listing = Path(tmp) / "posts.txt"
        with listing.open("wb") as out:
            for headers, body in posts:
                head = "\x1f".join(f"{k}: {v}" for k, v in headers.items()).encode()
                if any(c in body or c in head for c in (b"\t", b"\n")):
                    raise ValueError("a POST's headers and body must be one line without tabs")
                out.write(head + b"\t" + body + b"\n")
        finished = Path(tmp) / "finished"
        finished.mkdir()
        command = _command(script, port, threads, connections, seconds, timeout_s=30)
        env = {
            "BENCH_REQUESTS": str(listing),
            "BENCH_PATH": path,
            "BENCH_THREADS": str(threads),
            "BENCH_DONE_DIR": str(finished),
            "PATH": "/usr/bin:/bin",
        }
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        stdout = _run_wrk(command, env, finished, threads)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    raw = _reported(stdout)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return PostResult(
        seconds=raw["finished"] - raw["started"],
        answered=raw["answered"],
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        bad=raw["bad"],
        errors=raw["errors"],
        stored=raw["stored"],
        duplicates=raw["duplicates"],
        cpu_s=cpu,
    )
