"""Outbound email: an :class:`OutboundMessage` -> a MIME message -> the SMTP relay.

Threading is the point of most of what is here. Every message carries our own
``Message-ID`` (built from the gateway's id for the message), so when the guest
answers, their ``In-Reply-To`` names it and the gateway finds the conversation;
our replies in turn carry ``In-Reply-To``/``References`` so the guest's mail
client shows one thread. The same id is sent again on a retry, so a message
that did arrive before a timeout shows up once in clients that collapse
duplicates.

Every message is marked ``Auto-Submitted`` (RFC 3834): ``auto-replied`` when it
answers a guest's message, ``auto-generated`` otherwise (a reminder). A guest's
mail client shows it like any other mail, but out-of-office responders and
other bots must not answer it, which stops two robots from mailing each other
forever. ``X-Auto-Response-Suppress`` asks Exchange for the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from email.errors import MessageError
from email.message import EmailMessage
from typing import Any, TypeVar

import aiosmtplib

from saveit.channels.email.compose import build_email
from saveit.domain.channel_ports import ChannelAccount, SendContext, SendFailed, SendResult
from saveit.domain.messages import (
    ChannelName,
    OutboundMessage,
)

log = logging.getLogger(__name__)

IMPLICIT_TLS_PORT = 465  # SMTPS: TLS from the first byte instead of STARTTLS

T = TypeVar("T")


class EmailSender:
    """The :class:`~saveit.domain.channel_ports.Sender` for email, through one SMTP relay.

    ``starttls`` upgrades a plain connection (port 587); on port 465 the
    connection is TLS from the start instead. ``timeout_s`` bounds each SMTP
    command, and three times it bounds the whole send, so a relay that answers
    slowly cannot hold the delivery worker's thread for long.
    """

    channel: ChannelName = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout_s: float = 10.0,
        reply_address: Callable[[ChannelAccount, str], str] | None = None,
    ) -> None:
        self.reply_address = reply_address  # the guest's reply address (email_proof)
        self.host = host
        self.port = port
        self.username = username
        self._password = password  # never logged, never in repr
        self.starttls = starttls
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return (
            f"EmailSender(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"starttls={self.starttls}, timeout_s={self.timeout_s})"
        )

    def send(
        self, account: ChannelAccount, to: str, message: OutboundMessage, context: SendContext
    ) -> SendResult:
        """Build the email and hand it to the relay; the result's id is our Message-ID.

        Raises :class:`SendFailed`: retryable for 4xx answers, timeouts and
        connection errors; not retryable for 5xx refusals (``code`` is the SMTP
        code, e.g. ``"550"`` for an unknown recipient) and for messages that
        cannot be built (a malformed address).
        """
        try:
            reply_to = self.reply_address(account, to) if self.reply_address else None
            email = build_email(account, to, message, context, reply_to=reply_to)
        except (ValueError, TypeError, IndexError, MessageError) as exc:
            # The header parser's verdicts on an address come as any of these.
            raise SendFailed(f"cannot build the email: {exc}", retryable=False) from exc
        message_id = str(email["Message-ID"]).strip().strip("<>")
        try:
            _run(self._submit(email, sender=account.address, recipient=to))
        except SendFailed as failure:
            log.warning(
                "email %s not sent via %s:%s: %s (retryable=%s)",
                message_id,
                self.host,
                self.port,
                failure.detail,
                failure.retryable,
            )
            raise
        log.info("email %s sent via %s:%s", message_id, self.host, self.port)
        return SendResult(provider_message_id=message_id)

    async def _submit(self, email: EmailMessage, *, sender: str, recipient: str) -> None:
        implicit_tls = self.port == IMPLICIT_TLS_PORT
        auth = self.username is not None and self._password is not None
        try:
            await asyncio.wait_for(
                aiosmtplib.send(
                    email,
                    sender=sender,
                    recipients=[recipient],
                    hostname=self.host,
                    port=self.port,
                    username=self.username if auth else None,
                    password=self._password if auth else None,
                    use_tls=implicit_tls,
                    start_tls=self.starttls and not implicit_tls,
                    timeout=self.timeout_s,
                ),
                timeout=self.timeout_s * 3,
            )
        except Exception as exc:
            raise _failure(exc) from exc


def _failure(exc: Exception) -> SendFailed:
    """SMTP's own split: 4xx is "try again later", 5xx is "never"."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        return SendFailed(
            f"recipient refused: {refused.code} {refused.message}",
            code=str(refused.code),
            retryable=not 500 <= refused.code < 600,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendFailed(
            f"{type(exc).__name__}: {exc.code} {exc.message}",
            code=str(exc.code),
            retryable=not 500 <= exc.code < 600,
        )
    unsupported = type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc).lower()
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or unsupported:
        # The relay lacks STARTTLS, AUTH or SMTPUTF8: our configuration, not a passing fault.
        return SendFailed(f"relay does not support it: {exc}", retryable=False)
    if isinstance(exc, TimeoutError):
        return SendFailed("SMTP relay timed out", retryable=True)
    # Connection refused or dropped, TLS handshake failures, anything else.
    return SendFailed(f"{type(exc).__name__}: {exc}", retryable=True)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code.

    The delivery worker calls senders from a plain thread; should one ever be
    called from inside an event loop, the send runs on a helper thread instead
    of failing on ``asyncio.run``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="email-send") as pool:
        return pool.submit(asyncio.run, coro).result()
