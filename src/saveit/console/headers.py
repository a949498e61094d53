"""The console's response headers: a strict Content-Security-Policy (only our own
scripts, styles and connections; no inline script or style, no framing), and
caching that keeps pages private and lets versioned assets be cached."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saveit.console.render import STATIC_PREFIX

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
STATIC_MAX_AGE_S = 7 * 24 * 3600


class ConsoleHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/console" or path.startswith("/console/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC_PREFIX + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # A page may tighten or extend its own policy (the door scanner adds
                # 'wasm-unsafe-eval'); every other response gets the strict one.
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                if static:
                    headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE_S}"
                else:
                    headers["Cache-Control"] = "no-store"
                    headers.append("Vary", "Cookie")
            await send(message)

        await self.app(scope, receive, send_with_headers)
