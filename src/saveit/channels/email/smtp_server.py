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

Limits keep one sender from using more than its share: at most
``max_recipients`` per message (more get ``452``, which a sending server
answers by sending the rest in another transaction) and at most
``max_connections_per_ip`` open connections from one address (more get ``421``
and are closed). Given a TLS context, the server offers ``STARTTLS``; it does
not require it, since some sending servers still deliver in plain text.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

DEFAULT_DATA_SIZE_LIMIT = 10 * 1024 * 1024  # 10 MB: a booking request with a photo or two
DEFAULT_MAX_RECIPIENTS = 10
DEFAULT_MAX_CONNECTIONS_PER_IP = 5

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
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
    ) -> None:
        self._accepts = accepts
        self._deliver = deliver
        self.data_size_limit = data_size_limit
        self.max_recipients = max_recipients

    async def handle_RCPT(  # noqa: N802 - the hook name aiosmtpd calls
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        recipient = address.strip().lower()
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
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


class _PeerCount:
    """Open connections per client address; touched only on the server's event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: Counter[str] = Counter()

    def enter(self, peer: str) -> bool:
        if self.open[peer] >= self.limit:
            return False
        self.open[peer] += 1
        return True

    def leave(self, peer: str) -> None:
        self.open[peer] -= 1
        if self.open[peer] <= 0:
            del self.open[peer]


class _LimitedSmtp(SMTP):
    """One SMTP session, refused with 421 when its address has too many open."""

    def __init__(self, handler: InboundSmtp, *, peers: _PeerCount, **kwargs: object) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]  # aiosmtpd's keywords
        self._peers = peers
        self._counted: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection, not its STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else ""
            if not self._peers.enter(address):
                self._refused = True
                log.info("smtp: refused a connection from %s: too many open", address)
                if isinstance(transport, asyncio.WriteTransport):
                    transport.write(b"421 4.7.0 Too many connections from your address\r\n")
                transport.close()
                return
            self._counted = address
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._counted is not None:
            self._peers.leave(self._counted)
            self._counted = None
        super().connection_lost(error)


class _Controller(Controller):
    """aiosmtpd's threaded controller, also on port 0 (a free port, for tests):
    the port the system picked is read back before the controller's self-check
    connects to it. Its sessions count connections per client address."""

    def __init__(self, handler: InboundSmtp, *, max_connections_per_ip: int, **kwargs: object):
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]  # aiosmtpd's keywords
        self._peers = _PeerCount(max_connections_per_ip)

    def factory(self) -> SMTP:
        return _LimitedSmtp(self.handler, peers=self._peers, **self.SMTP_kwargs)

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
    tls_context: ssl.SSLContext | None = None,
    max_recipients: int = DEFAULT_MAX_RECIPIENTS,
    max_connections_per_ip: int = DEFAULT_MAX_CONNECTIONS_PER_IP,
) -> Controller:
    """A started SMTP server on ``host:port`` (its own thread and event loop).

    ``port=0`` picks a free port; read it back from ``controller.port``. Stop
    it with ``controller.stop()``. ``server_hostname`` is the name in the SMTP
    greeting (default: this machine's host name, without a DNS lookup).
    Messages over ``data_size_limit`` bytes are refused with 552. With a
    ``tls_context`` the server offers STARTTLS.
    """
    handler = InboundSmtp(
        accepts=accepts,
        deliver=deliver,
        data_size_limit=data_size_limit,
        max_recipients=max_recipients,
    )
    controller = _Controller(
        handler,
        max_connections_per_ip=max_connections_per_ip,
        tls_context=tls_context,
        hostname=host,
        port=port,
        server_hostname=server_hostname or socket.gethostname(),
        ready_timeout=ready_timeout_s,
        data_size_limit=data_size_limit,
    )
    controller.start()
    log.info("SMTP server listening on %s:%s", host, controller.port)
    return controller
