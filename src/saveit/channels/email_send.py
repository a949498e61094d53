"""Outbound email: an :class:`OutboundMessage` -> a MIME message -> the SMTP relay.

Threading is the point of most of what is here. Every message carries our own
``Message-ID`` (built from the gateway's id for the message), so when the guest
answers, their ``In-Reply-To`` names it and the gateway finds the conversation;
our replies in turn carry ``In-Reply-To``/``References`` so the guest's mail
client shows one thread. The same id is sent again on a retry, so a message
that did arrive before a timeout shows up once in clients that collapse
duplicates.

Email has no buttons: choices become a numbered list in both the plain and the
HTML part, and the gateway maps a guest's "2" back to the second choice.

Every message is marked ``Auto-Submitted`` (RFC 3834): ``auto-replied`` when it
answers a guest's message, ``auto-generated`` otherwise (a reminder). A guest's
mail client shows it like any other mail, but out-of-office responders and
other bots must not answer it, which stops two robots from mailing each other
forever. ``X-Auto-Response-Suppress`` asks Exchange for the same.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, TypeVar

import aiosmtplib

from saveit.domain.channel_ports import ChannelAccount, SendContext, SendFailed, SendResult
from saveit.domain.messages import (
    Attachment,
    Button,
    ChannelName,
    Image,
    ListOption,
    OutboundMessage,
)

log = logging.getLogger(__name__)

SUBJECT_MAX = 70  # what a phone's inbox shows of a subject line
IMPLICIT_TLS_PORT = 465  # SMTPS: TLS from the first byte instead of STARTTLS
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_URL = re.compile(r"https?://[^\s<>\"']+")
_METHOD = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)
_DEFAULT_SUBJECT = {"es": "Mensaje de {name}", "en": "Message from {name}"}

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


# --- building the message --------------------------------------------------------------


def build_email(
    account: ChannelAccount,
    to: str,
    message: OutboundMessage,
    context: SendContext,
    *,
    reply_to: str | None = None,
) -> EmailMessage:
    """The MIME message for ``message``: plain + HTML alternatives, related inline
    images, then attachments (an ``.ics`` as ``text/calendar; method=…``).

    ``reply_to`` is the guest's own reply address: a reply to it proves the
    guest reads this mailbox (see :mod:`saveit.channels.email_proof`)."""
    if any(c in to for c in "\r\n") or any(c in account.address for c in "\r\n"):
        raise ValueError("line breaks in an address")
    domain = _domain(account.address)
    email = EmailMessage()
    name = " ".join(context.restaurant_name.split())
    email["From"] = Address(display_name=name, addr_spec=account.address.strip())
    email["To"] = Address(addr_spec=to.strip())
    if reply_to:
        email["Reply-To"] = Address(display_name=name, addr_spec=reply_to)
    email["Subject"] = _subject(message, context)
    when = context.now or datetime.now(UTC)
    email["Date"] = format_datetime(when if when.tzinfo else when.replace(tzinfo=UTC))
    email["Message-ID"] = f"<{_id_local(context.message_id)}@{domain}>"
    parent = _bare_id(context.in_reply_to) if context.in_reply_to else None
    references = [_bare_id(r) for r in context.references if _bare_id(r)]
    if parent and parent not in references:
        references.append(parent)
    if parent:
        email["In-Reply-To"] = f"<{parent}>"
    if references:
        email["References"] = " ".join(f"<{r}>" for r in references)
    email["Auto-Submitted"] = "auto-replied" if parent else "auto-generated"
    email["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    if context.language:
        email["Content-Language"] = context.language

    inline = [a for a in message.attachments if a.inline and a.content_type.startswith("image/")]
    image_cid = make_msgid(domain=domain) if message.image and message.image.data else None
    inline_cids = [a.content_id or make_msgid(domain=domain) for a in inline]

    email.set_content(_plain(message), charset="utf-8", cte="quoted-printable")
    email.add_alternative(
        _html(message, context, image_cid, [*zip(inline, inline_cids, strict=True)]),
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    html_part = list(email.iter_parts())[1]
    if message.image and message.image.data and image_cid:
        maintype, subtype = _split_type(message.image.content_type, "image/png")
        html_part.add_related(
            message.image.data,
            maintype=maintype,
            subtype=subtype,
            cid=image_cid,
            disposition="inline",
            filename=f"image.{subtype}",
        )
    for attachment, cid in zip(inline, inline_cids, strict=True):
        maintype, subtype = _split_type(attachment.content_type, "image/png")
        html_part.add_related(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            cid=_angle(cid),
            disposition="inline",
            filename=attachment.filename,
        )
    for attachment in message.attachments:
        if not any(attachment is a for a in inline):
            _attach(email, attachment)
    return email


def _attach(email: EmailMessage, attachment: Attachment) -> None:
    maintype, subtype = _split_type(attachment.content_type, "application/octet-stream")
    params: dict[str, str] = {}
    if (maintype, subtype) == ("text", "calendar"):
        # Calendar clients offer "add to calendar" only with the iTIP method in
        # the Content-Type, and it must match the METHOD inside the file.
        found = _METHOD.search(attachment.data)
        params["method"] = found.group(1).decode("ascii").upper() if found else "REQUEST"
        params["charset"] = "utf-8"
    email.add_attachment(
        attachment.data,
        maintype=maintype,
        subtype=subtype,
        filename=attachment.filename,
        params=params,
    )


def _split_type(content_type: str, default: str) -> tuple[str, str]:
    maintype, _, subtype = (content_type or default).partition(";")[0].strip().partition("/")
    if not maintype or not subtype:
        maintype, _, subtype = default.partition("/")
    return maintype.lower(), subtype.lower()


def _domain(address: str) -> str:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{address!r} is not an email address")
    try:
        return domain.lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{address!r} has an unusable domain") from exc


def _id_local(message_id: str) -> str:
    """Our id as the left part of a Message-ID (dot-atom characters only)."""
    local = _ID_UNSAFE.sub("-", message_id.strip()).strip(".")
    local = re.sub(r"\.{2,}", ".", local)
    if not local:
        raise ValueError("empty message id")
    return local


def _bare_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def _angle(cid: str) -> str:
    return f"<{_bare_id(cid)}>"


def _subject(message: OutboundMessage, context: SendContext) -> str:
    if message.subject and message.subject.strip():
        return " ".join(message.subject.split())
    for line in message.text.splitlines():
        line = " ".join(line.split())
        if line:
            if len(line) <= SUBJECT_MAX:
                return line
            cut = line[: SUBJECT_MAX - 1].rsplit(" ", 1)[0]
            return cut.rstrip(" ,;:.-") + "…"
    name = context.restaurant_name or "SaveIt"
    template = _DEFAULT_SUBJECT.get(context.language[:2], _DEFAULT_SUBJECT["en"])
    return template.format(name=name)


def _choice_line(n: int, choice: Button | ListOption) -> str:
    description = getattr(choice, "description", "")
    return f"{n}. {choice.title}" + (f" — {description}" if description else "")


def _plain(message: OutboundMessage) -> str:
    blocks = [message.text.strip()] if message.text.strip() else []
    image = message.image
    if image is not None and (image.caption or image.url):
        blocks.append("\n".join(p for p in (image.caption, image.url) if p))
    if message.choices:
        lines = [message.options_label] if message.options and message.options_label else []
        lines += [_choice_line(n, c) for n, c in enumerate(message.choices, start=1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _linkify(escaped: str) -> str:
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)":
            url, trail = url[:-1], url[-1] + trail
        return f'<a href="{url}">{url}</a>{trail}'

    return _URL.sub(link, escaped)


def _paragraphs(text: str) -> str:
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.strip():
            lines = [_linkify(html.escape(line.strip())) for line in block.splitlines()]
            out.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(out)


def _img(src: str, image_caption: str) -> str:
    alt = html.escape(image_caption, quote=True)
    return (
        f'<p><img src="{html.escape(src, quote=True)}" alt="{alt}" '
        'style="max-width:100%;height:auto"></p>'
    )


def _html(
    message: OutboundMessage,
    context: SendContext,
    image_cid: str | None,
    inline: list[tuple[Attachment, str]],
) -> str:
    parts = [_paragraphs(message.text)] if message.text.strip() else []
    image: Image | None = message.image
    if image is not None:
        if image_cid:
            parts.append(_img(f"cid:{_bare_id(image_cid)}", image.caption))
        elif image.url:
            parts.append(_img(image.url, image.caption))
        if image.caption:
            parts.append(f"<p><small>{html.escape(image.caption)}</small></p>")
        if image.url and image_cid:
            parts.append(f"<p>{_linkify(html.escape(image.url))}</p>")
    for attachment, cid in inline:
        parts.append(_img(f"cid:{_bare_id(cid)}", attachment.filename))
    if message.choices:
        if message.options and message.options_label:
            parts.append(f"<p><strong>{html.escape(message.options_label)}</strong></p>")
        items = []
        for choice in message.choices:
            description = getattr(choice, "description", "")
            extra = f" <small>{html.escape(description)}</small>" if description else ""
            items.append(f"<li>{html.escape(choice.title)}{extra}</li>")
        parts.append("<ol>\n" + "\n".join(items) + "\n</ol>")
    lang = html.escape(context.language or "es", quote=True)
    title = html.escape(context.restaurant_name)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;'
        'line-height:1.5;color:#222222">\n' + "\n".join(parts) + "\n</body>\n</html>\n"
    )
