"""The inbound SMTP server: guests' mail to a restaurant's address arrives here.

Two rules shape it. Unknown recipients are refused at ``RCPT`` time (550), so
we never take responsibility for mail we cannot route and never have to send a
bounce. And a message is acknowledged only after the injected ``deliver`` has
stored it: a ``250`` tells the sending server it may forget the message, so if
storing fails we answer ``451`` and that server tries again later instead of
the guest's email being lost. A message stored whose ``250`` was lost (the
connection dropped meanwhile) comes again; the gateway deduplicates it by
Message-ID.

``accepts`` and ``deliver`` are plain synchronous callables (they touch the
database); they run on worker threads so one slow delivery does not stall the
other SMTP sessions on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

DEFAULT_DATA_SIZE_LIMIT = 10 * 1024 * 1024  # 10 MB: a booking request with a photo or two

Accepts = Callable[[str], bool]
Deliver = Callable[[bytes, list[str]], None]


class InboundSmtp:
    """The aiosmtpd handler: recipient checks and persist-before-acknowledge.

    Recipient addresses are lowercased before ``accepts`` and ``deliver`` see
    them: restaurants' addresses are matched without regard to case, as every
    mail provider does in practice.
    """

    def __init__(
        self,
        *,
        accepts: Accepts,
        deliver: Deliver,
        data_size_limit: int | None = DEFAULT_DATA_SIZE_LIMIT,
    ) -> None:
        self._accepts = accepts
        self._deliver = deliver
        self.data_size_limit = data_size_limit

    async def handle_RCPT(  # noqa: N802 - the hook name aiosmtpd calls
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        recipient = address.strip().lower()
        try:
            known = await asyncio.to_thread(self._accepts, recipient)
        except Exception:
            log.exception("recipient check failed; answering 451")
            return "451 4.3.0 Recipient check failed, try again later"
        if not known:
            log.info("refused mail for unknown recipient %s", recipient)
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(recipient)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - the hook name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else b""
        if self.data_size_limit and len(raw) > self.data_size_limit:
            # aiosmtpd already refuses oversized DATA; this guards other SMTP setups.
            return "552 5.3.4 Message too big"
        recipients = list(envelope.rcpt_tos)
        try:
            await asyncio.to_thread(self._deliver, raw, recipients)
        except Exception:
            log.exception("inbound email not stored; answering 451 so the sender retries")
            return "451 4.3.0 Message not stored, try again later"
        return "250 OK"


class _Controller(Controller):
    """aiosmtpd's threaded controller, also on port 0 (a free port, for tests):
    the port the system picked is read back before the controller's self-check
    connects to it."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server) and self.server.sockets:
            self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd leaves it unannotated


def start_smtp_server(
    host: str,
    port: int,
    *,
    accepts: Accepts,
    deliver: Deliver,
    data_size_limit: int | None = DEFAULT_DATA_SIZE_LIMIT,
    server_hostname: str | None = None,
    ready_timeout_s: float = 5.0,
) -> Controller:
    """A started SMTP server on ``host:port`` (its own thread and event loop).

    ``port=0`` picks a free port; read it back from ``controller.port``. Stop
    it with ``controller.stop()``. ``server_hostname`` is the name in the SMTP
    greeting (default: this machine's host name, without a DNS lookup).
    Messages over ``data_size_limit`` bytes are refused with 552.
    """
    handler = InboundSmtp(accepts=accepts, deliver=deliver, data_size_limit=data_size_limit)
    controller = _Controller(
        handler,
        hostname=host,
        port=port,
        server_hostname=server_hostname or socket.gethostname(),
        ready_timeout=ready_timeout_s,
        data_size_limit=data_size_limit,
    )
    controller.start()
    log.info("SMTP server listening on %s:%s", host, controller.port)
    return controller
