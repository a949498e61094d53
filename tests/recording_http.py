"""A small HTTP server on loopback that stands in for a provider's API (Meta
Graph, Twilio REST) and records every request it receives.

Tests queue the answers it gives (status, JSON body) so they can script 5xx
storms and 4xx refusals; with nothing queued it answers ``default``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


Answer = tuple[int, Any]  # (status, JSON-able body)


@dataclass
class RecordingServer:
    default: Callable[[Recorded], Answer] = field(default=lambda _r: (200, {}))
    requests: list[Recorded] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def _answer(self, recorded: Recorded) -> Answer:
        with self._lock:
            self.requests.append(recorded)
            if self.answers:
                return self.answers.popleft()
        return self.default(recorded)


@contextmanager
def recording_server(
    default: Callable[[Recorded], Answer] | None = None,
) -> Iterator[RecordingServer]:
    server_state = RecordingServer() if default is None else RecordingServer(default=default)

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # no 40 ms stall between headers and body

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                # The client went away mid-request (a worker killed while sending): a
                # provider acts on no part of a request it did not receive whole.
                self.close_connection = True
                return
            recorded = Recorded(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            status, answer = server_state._answer(recorded)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server names

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
