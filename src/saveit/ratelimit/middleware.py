"""Per-IP and per-token limits in front of the whole API, as an ASGI middleware.

It runs before routing, so a flood is refused before it costs a database query.
With Redis the check is a blocking call, so it runs on a thread, never on the
event loop: on a lane of its own (``threads`` of them), not on the request
threads, where every request of a busy minute, cache hits included, would queue
behind bookings holding those threads for whole transactions. Counted in process
memory (no Redis) it is a few microseconds of arithmetic, done on the loop.

Probes (``/healthz``, ``/readyz``) are exempt: an orchestrator must always be
able to ask. So are provider webhooks (``/webhooks/…``): they arrive from a
provider's few addresses on behalf of every guest, are signed, and are limited
per guest identity behind the gateway instead. The client IP is what the server
saw, after uvicorn's ``--proxy-headers`` handling of trusted proxies.

How a refusal looks is the API's business (problem+json there): it hands the
middleware ``refuse``, which turns a decision into the response to send.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from saveit.ratelimit.gcra import Decision
from saveit.ratelimit.limiter import RateLimiter

EXEMPT = frozenset({"/healthz", "/readyz"})


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        refuse: Callable[[Decision], ASGIApp],
        threads: int = 4,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.refuse = refuse
        self.threads = threads
        self._lane: anyio.CapacityLimiter | None = None  # made on the event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not self.limiter.enabled
            or path in EXEMPT
            or path.startswith("/webhooks/")
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        bearer = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    bearer = token.strip()
                break
        ip = client[0] if client else None
        if self.limiter.shared is None:
            decision = self.limiter.check_request(ip, bearer)
        else:
            if self._lane is None:
                self._lane = anyio.CapacityLimiter(self.threads)
            decision = await anyio.to_thread.run_sync(
                self.limiter.check_request, ip, bearer, limiter=self._lane
            )
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        await self.refuse(decision)(scope, receive, send)
