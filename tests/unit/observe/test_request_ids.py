"""Request ids end up in every log line and stored row of a request: a fresh one
must never repeat, across requests, processes and forks."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from saveit.observe.context import accepted_request_id

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_a_plain_client_id_is_kept_and_anything_else_gets_a_fresh_one() -> None:
    assert accepted_request_id("abc-123") == "abc-123"
    for odd in (None, "", "has space", "x" * 129, "new\nline"):
        assert HEX32.fullmatch(accepted_request_id(odd))


def test_fresh_ids_never_repeat_in_a_process() -> None:
    ids = {accepted_request_id(None) for _ in range(10_000)}
    assert len(ids) == 10_000


def test_another_process_and_a_forked_child_mint_other_ids() -> None:
    probe = "from saveit.observe.context import accepted_request_id as a; print(a(None))"
    other = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, accepted_request_id(None).encode())
        os._exit(0)
    os.waitpid(child, 0)
    forked = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    mine = accepted_request_id(None)
    prefixes = {mine[:16], other[:16], forked[:16]}
    assert len(prefixes) == 3, (mine, other, forked)
